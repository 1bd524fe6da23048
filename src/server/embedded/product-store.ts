import { mkdir, open, stat, truncate, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProductInfo } from '../../client/backend.js';
import { BadRequestError, ConflictError, NotFoundError } from '../../client/http-errors.js';
import { describeValue } from '../../core/errors.js';
import { checkProductId } from './check-product-id.js';
import { checkUpload, prepareAppend } from './prepare-features.js';

export { serialise } from './serialise-features.js';

/** What the service keeps about a product besides its features. @internal */
export interface ProductMeta {
  readonly id: string;
  readonly title: string;
  readonly featureCount: number;
  /** Length of the features file up to its last complete, committed line. */
  readonly byteLength: number;
}

/** The longest product title accepted, in characters. @internal */
export const MAX_TITLE_LENGTH = 1024;


/**
 * Where the products' {@link ProductMeta} are kept: `product.json` files beside the features
 * (the embedded service) or rows of a database (the HTTP server).
 * @internal
 */
export interface ProductCatalog {
  /** Every product saved, in any order; unreadable entries are left out. */
  load(): Promise<ProductMeta[]>;
  /** Saves a product's meta, replacing what was saved before, atomically. */
  save(meta: ProductMeta): Promise<void>;
}

/**
 * The products on disk: `products/<id>/features.ndjson` (one GeoJSON Feature per line,
 * appended to), with their title and counts in a {@link ProductCatalog}. Writes to one
 * product are serialised; an append is committed (its new length saved in the catalog) only
 * once all its lines are written, so a job reading up to the committed length never sees half
 * a feature.
 * @internal
 */
export class ProductStore {
  readonly #dir: string;
  readonly #catalog: ProductCatalog;
  readonly #products = new Map<string, ProductMeta>();
  /** The tail of each product's chain of writes. */
  readonly #writes = new Map<string, Promise<unknown>>();

  private constructor(dir: string, catalog: ProductCatalog) {
    this.#dir = dir;
    this.#catalog = catalog;
  }

  /** Opens (and creates) the store in `dir`, loading the products of the catalog. */
  static async open(dir: string, catalog: ProductCatalog): Promise<ProductStore> {
    const store = new ProductStore(dir, catalog);
    await mkdir(dir, { recursive: true });
    for (const meta of await catalog.load()) await store.#load(meta);
    return store;
  }

  /** The product, or `undefined` when there is none. */
  get(productId: string): ProductInfo | undefined {
    const meta = this.#products.get(productId);
    return meta && { id: meta.id, title: meta.title, featureCount: meta.featureCount };
  }

  /** The product's features file and how many bytes of it are committed. */
  features(productId: string): { readonly path: string; readonly bytes: number } {
    const meta = this.#require(productId);
    return { path: this.#featuresPath(productId), bytes: meta.byteLength };
  }

  /**
   * Creates an empty product.
   * @throws BadRequestError for a malformed id or title, ConflictError when the id is taken.
   */
  async create(productId: string, title: unknown): Promise<ProductInfo> {
    try {
      checkProductId(productId);
    } catch (error) {
      throw new BadRequestError((error as Error).message);
    }
    if (title !== undefined && typeof title !== 'string') {
      throw new BadRequestError(`Expected the product's \`title\` to be a string, got ${describeValue(title)}`);
    }
    if (title !== undefined && title.length > MAX_TITLE_LENGTH) {
      throw new BadRequestError(
        `Expected the product's \`title\` to be at most ${MAX_TITLE_LENGTH} characters, got ${title.length}: use a shorter title`,
      );
    }
    if (this.#products.has(productId) || this.#writes.has(productId)) {
      throw new ConflictError(`A product with id ${JSON.stringify(productId)} exists already: pick another id, or use the existing product`);
    }
    const meta: ProductMeta = { id: productId, title: title ?? productId, featureCount: 0, byteLength: 0 };
    await this.#exclusive(productId, async () => {
      await mkdir(join(this.#dir, productId), { recursive: true });
      await writeFile(this.#featuresPath(productId), '');
      await this.#saveMeta(meta);
      this.#products.set(productId, meta);
    });
    return this.get(productId)!;
  }

  /**
   * Appends features to a product, giving those without an id their rank in the product.
   * `features` is an array of features, or an upload's JSON text (a FeatureCollection or an
   * array), which is parsed and checked off the main thread. Every feature is checked (and
   * serialised) before anything is written; a failed write is rolled back, so a rejected call
   * leaves the product as it was.
   * @returns How many features were added.
   * @throws NotFoundError for an unknown product, BadRequestError naming the first bad feature.
   */
  async add(productId: string, features: unknown): Promise<number> {
    this.#require(productId);
    // An upload's JSON text is parsed and checked in a worker, in the product's turn (the ids it
    // gives depend on the count); features given as values are checked at once.
    const upload = checkUpload(features);
    return this.#exclusive(productId, async () => {
      const meta = this.#require(productId);
      const { count, chunks } = await prepareAppend(upload, meta.featureCount);
      if (chunks.length === 0) return 0;
      const path = this.#featuresPath(productId);
      const byteLength = await appendChunks(path, chunks, meta.byteLength);
      const next = { ...meta, featureCount: meta.featureCount + count, byteLength };
      try {
        await this.#saveMeta(next);
      } catch (error) {
        // Not committed (the catalog refused it: a full database, say): the lines go too, so the
        // next append starts after the last committed one.
        await truncate(path, meta.byteLength).catch(() => undefined);
        throw error;
      }
      this.#products.set(productId, next);
      return count;
    });
  }

  /** Resolves once no write is under way. */
  async idle(): Promise<void> {
    while (this.#writes.size > 0) await Promise.allSettled([...this.#writes.values()]);
  }

  #require(productId: string): ProductMeta {
    const meta = this.#products.get(productId);
    if (meta === undefined) {
      throw new NotFoundError(`No product ${JSON.stringify(productId)}: create it first (client.createFeatureCollection() in code, "export-task add --create" on the command line)`);
    }
    return meta;
  }

  #featuresPath(productId: string): string {
    return join(this.#dir, productId, 'features.ndjson');
  }

  /** Runs `task` after the product's earlier writes, and before its later ones. */
  async #exclusive<T>(productId: string, task: () => Promise<T>): Promise<T> {
    const before = this.#writes.get(productId) ?? Promise.resolve();
    const run = before.then(task, task);
    const tail = run.catch(() => undefined);
    this.#writes.set(productId, tail);
    try {
      return await run;
    } finally {
      if (this.#writes.get(productId) === tail) this.#writes.delete(productId);
    }
  }

  async #saveMeta(meta: ProductMeta): Promise<void> {
    await this.#catalog.save(meta);
  }

  async #load(meta: ProductMeta): Promise<void> {
    try {
      checkProductId(meta.id);
      if (typeof meta.title !== 'string' || !Number.isSafeInteger(meta.featureCount) || !Number.isSafeInteger(meta.byteLength)) return;
      const path = this.#featuresPath(meta.id);
      // An append cut short (the process died) left bytes past the committed length: drop them.
      if ((await stat(path)).size > meta.byteLength) await truncate(path, meta.byteLength);
      this.#products.set(meta.id, meta);
    } catch {
      // Not a product (a bad id, no features file): leave it alone.
    }
  }
}

/**
 * Appends `chunks` to the features file at `path`, whose committed length is `committed`, and
 * syncs it. A failed append is undone (truncated back), so the file ends with the last committed
 * line.
 * @returns The file's new committed length.
 * @internal
 */
export async function appendChunks(path: string, chunks: readonly Buffer[], committed: number): Promise<number> {
  let file: FileHandle | undefined;
  let byteLength = committed;
  try {
    file = await open(path, 'a');
    for (const chunk of chunks) byteLength += await writeAll(file, chunk);
    await file.sync();
  } catch (error) {
    await file?.close().catch(() => undefined);
    file = undefined;
    await truncate(path, committed).catch(() => undefined);
    throw error;
  } finally {
    await file?.close();
  }
  return byteLength;
}

/** Writes all of `data` at the file's position. @internal */
export async function writeAll(file: FileHandle, data: Buffer): Promise<number> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await file.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
  return data.length;
}
