import { randomUUID } from 'node:crypto';
import { mkdir, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RedisConnection } from './redis-target.js';
import type { ProductInfo } from '../../client/backend.js';
import { BadRequestError, ConflictError, NotFoundError } from '../../client/http-errors.js';
import { describeValue } from '../../core/errors.js';
import { checkUpload, prepareAppend } from '../embedded/prepare-features.js';
import { checkProductId } from '../embedded/check-product-id.js';
import type { ProductMeta } from '../embedded/product-store.js';
import { appendChunks } from '../embedded/product-store.js';
import { redisKeys } from './redis-keys.js';

/**
 * A product's meta as Redis keeps it: with `logId`, given at creation, so that a product
 * created again under the same id (after Redis lost its data) is told from the one a client
 * followed. @internal
 */
export interface RedisProductMeta extends ProductMeta {
  readonly logId?: string | undefined;
}

/** Releases a lock only if it still holds our token (it may have expired and been taken). */
const UNLOCK_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
/** How long a features append may hold its product's lock before another instance may take it, ms. */
const LOCK_MS = 120_000;
/** How long an append waits for the lock, ms. */
const LOCK_WAIT_MS = 60_000;

/**
 * The products of the Redis mode: their meta ({@link ProductMeta}, as the other modes keep
 * it) in Redis, their features in `products/<id>/features.ndjson` under the directory every
 * API instance and worker shares. Nothing is cached: any instance sees what another did.
 * Appends to one product are serialised across instances by a lock in Redis, and committed
 * (the meta's `byteLength` moved on) only once written and synced, so a job never reads half
 * a feature, and an append cut short is cut off the file by the next one.
 * @internal
 */
export class RedisProducts {
  readonly #redis: RedisConnection;
  readonly #dir: string;

  constructor(redis: RedisConnection, dir: string) {
    this.#redis = redis;
    this.#dir = dir;
  }

  /** The product's meta, or `undefined` when there is none. */
  async meta(productId: string): Promise<RedisProductMeta | undefined> {
    const json = await this.#redis.get(redisKeys.product(productId));
    return json === null ? undefined : (JSON.parse(json) as RedisProductMeta);
  }

  /** @throws NotFoundError when there is no such product. */
  async get(productId: unknown): Promise<ProductInfo> {
    const meta = await this.require(productId);
    return { id: meta.id, title: meta.title, featureCount: meta.featureCount };
  }

  /** @throws NotFoundError when there is no such product. */
  async require(productId: unknown): Promise<RedisProductMeta> {
    const meta = typeof productId === 'string' && isProductId(productId) ? await this.meta(productId) : undefined;
    if (meta === undefined) throw new NotFoundError(`No product ${describeValue(productId)}: create it first (client.createFeatureCollection() in code, "export-task add --create" on the command line)`);
    return meta;
  }

  /** The product's features file. */
  featuresPath(productId: string): string {
    return join(this.#dir, productId, 'features.ndjson');
  }

  /**
   * Creates an empty product.
   * @throws BadRequestError for a malformed id or title, ConflictError when the id is taken.
   */
  async create(productId: unknown, title: unknown): Promise<ProductInfo> {
    try {
      checkProductId(productId);
    } catch (error) {
      throw new BadRequestError((error as Error).message);
    }
    const id = productId as string;
    if (title !== undefined && typeof title !== 'string') {
      throw new BadRequestError(`Expected the product's \`title\` to be a string, got ${describeValue(title)}`);
    }
    const meta: RedisProductMeta = { id, title: title ?? id, featureCount: 0, byteLength: 0, logId: randomUUID() };
    if (await this.#redis.exists(redisKeys.product(id))) throw taken(id);
    await mkdir(join(this.#dir, id), { recursive: true });
    // Another instance may create the file too: both write it empty, and only one SET NX wins.
    await writeFile(this.featuresPath(id), '', { flag: 'a' });
    if ((await this.#redis.set(redisKeys.product(id), JSON.stringify(meta), 'NX')) === null) throw taken(id);
    return { id, title: meta.title, featureCount: 0 };
  }

  /**
   * Appends features, giving those without an id their rank in the product. Every feature is
   * checked before anything is written; a failed write is rolled back.
   * @throws NotFoundError for an unknown product, BadRequestError naming the first bad feature.
   */
  async add(productId: string, features: unknown): Promise<number> {
    await this.require(productId);
    const upload = checkUpload(features);
    return this.#locked(productId, async () => {
      const meta = await this.require(productId);
      const { count, chunks } = await prepareAppend(upload, meta.featureCount);
      if (chunks.length === 0) return 0;
      const path = this.featuresPath(productId);
      // An append cut short (its instance died) left bytes past the committed length.
      if ((await stat(path)).size > meta.byteLength) await truncate(path, meta.byteLength);
      const byteLength = await appendChunks(path, chunks, meta.byteLength);
      const next: RedisProductMeta = { ...meta, featureCount: meta.featureCount + count, byteLength };
      await this.#redis.set(redisKeys.product(productId), JSON.stringify(next));
      return count;
    });
  }

  async #locked<T>(productId: string, task: () => Promise<T>): Promise<T> {
    const key = redisKeys.productLock(productId);
    const token = randomUUID();
    const deadline = Date.now() + LOCK_WAIT_MS;
    while ((await this.#redis.set(key, token, 'PX', LOCK_MS, 'NX')) === null) {
      if (Date.now() > deadline) {
        throw new ConflictError(`Features are being added to product ${JSON.stringify(productId)} by another request for over ${LOCK_WAIT_MS / 1000} s: try again later`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    try {
      return await task();
    } finally {
      await this.#redis.eval(UNLOCK_SCRIPT, 1, key, token);
    }
  }
}

function isProductId(id: string): boolean {
  try {
    checkProductId(id);
    return true;
  } catch {
    return false;
  }
}

function taken(productId: string): ConflictError {
  return new ConflictError(`A product with id ${JSON.stringify(productId)} exists already: pick another id, or use the existing product`);
}
