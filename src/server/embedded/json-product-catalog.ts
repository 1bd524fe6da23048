import { randomUUID } from 'node:crypto';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProductCatalog, ProductMeta } from './product-store.js';

/**
 * The embedded service's {@link ProductCatalog}: `products/<id>/product.json` beside each
 * product's features, replaced whole (written aside, then renamed) on each save.
 * @internal
 */
export class JsonProductCatalog implements ProductCatalog {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  async load(): Promise<ProductMeta[]> {
    const found: ProductMeta[] = [];
    for (const entry of await readdir(this.#dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      try {
        const meta = JSON.parse(await readFile(join(this.#dir, entry.name, 'product.json'), 'utf8')) as ProductMeta;
        if (meta.id === entry.name) found.push(meta);
      } catch {
        // No or unreadable product.json: not a product.
      }
    }
    return found;
  }

  async save(meta: ProductMeta): Promise<void> {
    // Write then rename, so product.json is always whole.
    const path = join(this.#dir, meta.id, 'product.json');
    const temp = `${path}.${randomUUID()}.tmp`;
    try {
      await writeFile(temp, `${JSON.stringify(meta)}\n`);
      await rename(temp, path);
    } finally {
      await rm(temp, { force: true });
    }
  }
}
