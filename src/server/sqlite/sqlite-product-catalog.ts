import type { Database, Statement } from 'better-sqlite3';
import type { ProductCatalog, ProductMeta } from '../embedded/product-store.js';

interface ProductRow {
  readonly id: string;
  readonly title: string;
  readonly feature_count: number;
  readonly byte_length: number;
}

/**
 * The server's {@link ProductCatalog}: one row of `products` per product (the features stay
 * in `products/<id>/features.ndjson`).
 * @internal
 */
export class SqliteProductCatalog implements ProductCatalog {
  readonly #all: Statement<[], ProductRow>;
  readonly #save: Statement<[string, string, number, number]>;

  constructor(db: Database) {
    this.#all = db.prepare<[], ProductRow>('SELECT id, title, feature_count, byte_length FROM products');
    this.#save = db.prepare<[string, string, number, number]>(
      `INSERT INTO products (id, title, feature_count, byte_length) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET title = excluded.title, feature_count = excluded.feature_count, byte_length = excluded.byte_length`,
    );
  }

  load(): Promise<ProductMeta[]> {
    // An executor that throws rejects: the catalog's errors come as rejections, like the file one's.
    return new Promise((resolve) =>
      resolve(this.#all.all().map((row) => ({ id: row.id, title: row.title, featureCount: row.feature_count, byteLength: row.byte_length }))),
    );
  }

  save(meta: ProductMeta): Promise<void> {
    return new Promise((resolve) => {
      this.#save.run(meta.id, meta.title, meta.featureCount, meta.byteLength);
      resolve();
    });
  }
}
