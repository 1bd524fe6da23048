/**
 * The keys of one product: `export-task:{<product>}:...`. The braces are a Redis Cluster hash
 * tag: only what is between them picks the key's slot, so every key of a product is in one
 * slot, on one master, and the scripts that touch several of them at once run on a cluster as
 * on one Redis (a cluster shards by product). Product ids are checked (`checkProductId`)
 * before they name a key and hold none of `{`, `}` or `/`, so no id can reach into another
 * product's keys or the service's.
 */
const productTag = (productId: string): string => `export-task:{${productId}}`;

/**
 * The Redis keys of the service, in one place: what lives where is documented in
 * `docs/server.md` ("Running on Redis"). One layout for one Redis and for a Redis Cluster.
 * Export ids are UUIDs.
 * @internal
 */
export const redisKeys = {
  /** JSON `ProductMeta` of a product (title, feature count, committed bytes of its features file). */
  product: (productId: string): string => `${productTag(productId)}:product`,
  /** Held (SET NX PX) while features are appended to the product's file, by whichever API instance. */
  productLock: (productId: string): string => `${productTag(productId)}:product-lock`,
  /** The product's event log: a Redis Stream, one entry (field `e`, the event's JSON) per event; entry ids are the SSE cursors. */
  events: (productId: string): string => `${productTag(productId)}:events`,
  /**
   * Hash of an export: `seq` (its last event's), `state` (JSON `ExportRecordState`, the fold of
   * its events), and the retention it was created under (`retention_ms`,
   * `outcome_retention_ms`), which its final append applies.
   */
  export: (productId: string, exportId: string): string => `${productTag(productId)}:export:${exportId}`,
  /** JSON `CheckedExportRequest` of an export: what its job does. Written once. */
  request: (productId: string, exportId: string): string => `${productTag(productId)}:request:${exportId}`,
  /** Counter giving each new export of the product its ordinal (creation order). */
  ordinal: (productId: string): string => `${productTag(productId)}:ordinal`,
  /** Sorted set of the product's final exports, scored by ordinal: the list route's pages. */
  final: (productId: string): string => `${productTag(productId)}:final`,
  /** Sorted set of the product's final exports, scored by when they ended (ms): what retention expires, and what a trimmed cursor's resume sends. */
  finished: (productId: string): string => `${productTag(productId)}:finished`,
  /** Sorted set of the product's exports not final yet, scored by when they were created (ms): the stream keeps their events. */
  active: (productId: string): string => `${productTag(productId)}:active`,
  /** Hash of export id to its compact outcome (JSON {@link CompactOutcome}), kept after its full record expired. */
  outcomes: (productId: string): string => `${productTag(productId)}:outcomes`,
  /** The export an `Idempotency-Key` of the product was given to. */
  idempotency: (productId: string, key: string): string => `${productTag(productId)}:idempotency:${key}`,
  /**
   * Sharded pub/sub channel (`SPUBLISH`, in the product's slot) of one export: an API instance
   * says there that the export was asked to cancel, and the worker running it, subscribed for
   * as long as it runs it, stops it.
   */
  cancel: (productId: string, exportId: string): string => `${productTag(productId)}:cancel:${exportId}`,
  /**
   * The id of the shared data directory (also in its `.export-task-data-dir` file): a worker on
   * another directory refuses to start. The service's only key outside a product, read and
   * written once per process start; `{/service}` is no product's tag.
   */
  dataDirId: 'export-task:{/service}:data-dir-id',
} as const;

/**
 * The prefix of the BullMQ queue's keys (BullMQ's `prefix` option): hash-tagged, as BullMQ
 * requires on a Redis Cluster, so that every key of the queue is in one slot (`{/queue}` is no
 * product's tag). @internal
 */
export const QUEUE_PREFIX = 'export-task:{/queue}';

/** The BullMQ queue the API instances add export jobs to and the workers take them from (its keys: `export-task:{/queue}:exports:*`). @internal */
export const EXPORT_QUEUE = 'exports';

/** The options every BullMQ `Queue`, `Worker` and `QueueEvents` of the export queue is made with, beside its connection. @internal */
export const QUEUE_OPTIONS = { prefix: QUEUE_PREFIX } as const;

/**
 * The BullMQ job id of an export: `<product>/<export id>`, so that whoever hears of a job by
 * its id alone (BullMQ's `failed` event) knows its product without a lookup in another slot.
 * BullMQ refuses `:` in a job id and product ids may hold it: the product id is
 * percent-encoded (`a:b` becomes `a%3Ab`). @internal
 */
export function exportJobId(productId: string, exportId: string): string {
  return `${encodeURIComponent(productId)}/${exportId}`;
}

/** The product and export a job id of {@link exportJobId} names, or `undefined` for another id. @internal */
export function fromExportJobId(jobId: string): { readonly productId: string; readonly exportId: string } | undefined {
  const slash = jobId.indexOf('/');
  if (slash <= 0 || slash === jobId.length - 1) return undefined;
  try {
    return { productId: decodeURIComponent(jobId.slice(0, slash)), exportId: jobId.slice(slash + 1) };
  } catch {
    return undefined;
  }
}

/** The key of a job's hash in BullMQ's layout (`<prefix>:<queue>:<job id>`): whether it exists says whether the job is still on the queue. @internal */
export function exportJobKey(jobId: string): string {
  return `${QUEUE_PREFIX}:${EXPORT_QUEUE}:${jobId}`;
}

/**
 * Keys only the layout before hash tags wrote (`export-task:<kind>/<product>...`, the global
 * `export-task:data-dir-id`, BullMQ's default `bull:export-task-exports:*`): a Redis holding
 * one is a deployment of that layout, which the service refuses to start on (see
 * `docs/server.md`, "Migrating from the layout without hash tags"). Every process of that
 * layout wrote the data directory key at start, and every queue its `id` counter or `meta`. @internal
 */
export const LEGACY_KEYS = ['export-task:data-dir-id', 'bull:export-task-exports:meta', 'bull:export-task-exports:id'] as const;

/** What an export job on the queue carries: the rest is read from Redis when it runs. @internal */
export interface ExportJobData {
  readonly productId: string;
  readonly exportId: string;
}
