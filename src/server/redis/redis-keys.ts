/**
 * The Redis keys of the service, in one place: what lives where is documented in
 * `docs/server.md` ("Running on Redis"). Product ids are checked (`checkProductId`) before
 * they name a key and cannot hold `/`, the separator, and export ids are UUIDs, so no id can
 * reach into another key.
 * @internal
 */
export const redisKeys = {
  /** JSON `ProductMeta` of a product (title, feature count, committed bytes of its features file). */
  product: (productId: string): string => `export-task:product/${productId}`,
  /** Held (SET NX PX) while features are appended to the product's file, by whichever API instance. */
  productLock: (productId: string): string => `export-task:product-lock/${productId}`,
  /** The product's event log: a Redis Stream, one entry (field `e`, the event's JSON) per event; entry ids are the SSE cursors. */
  events: (productId: string): string => `export-task:events/${productId}`,
  /** Hash of an export: `seq` (its last event's) and `state` (JSON `ExportRecordState`, the fold of its events). */
  export: (productId: string, exportId: string): string => `export-task:export/${productId}/${exportId}`,
  /** JSON `CheckedExportRequest` of an export: what its job does. Written once. */
  request: (productId: string, exportId: string): string => `export-task:request/${productId}/${exportId}`,
  /** Counter giving each new export of the product its ordinal (creation order). */
  ordinal: (productId: string): string => `export-task:ordinal/${productId}`,
  /** Sorted set of the product's final exports, scored by ordinal: the list route's pages. */
  final: (productId: string): string => `export-task:final/${productId}`,
  /** Sorted set of the product's final exports, scored by when they ended (ms): what retention expires, and what a trimmed cursor's resume sends. */
  finished: (productId: string): string => `export-task:finished/${productId}`,
  /** Sorted set of the product's exports not final yet, scored by when they were created (ms): the stream keeps their events. */
  active: (productId: string): string => `export-task:active/${productId}`,
  /** Hash of export id to its compact outcome (JSON {@link CompactOutcome}), kept after its full record expired. */
  outcomes: (productId: string): string => `export-task:outcomes/${productId}`,
  /** Hash of the retention settings (`retention_ms`, `outcome_retention_ms`), written by each API instance as it starts. */
  retention: 'export-task:retention',
  /** The export an `Idempotency-Key` of the product was given to. */
  idempotency: (productId: string, key: string): string => `export-task:idempotency/${productId}/${key}`,
  /** Hash of export id to product id: which product a job (named by its export id) belongs to. */
  productOf: 'export-task:product-of',
  /** The id of the shared data directory (also in its `.export-task-data-dir` file): a worker on another directory refuses to start. */
  dataDirId: 'export-task:data-dir-id',
  /** Pub/sub channel: `{"product_id","export_id"}` of each export asked to cancel, for the worker running it. */
  cancelChannel: 'export-task:cancel',
} as const;

/** The BullMQ queue the API instances add export jobs to and the workers take them from. @internal */
export const EXPORT_QUEUE = 'export-task-exports';

/** What an export job on the queue carries: the rest is read from Redis when it runs. @internal */
export interface ExportJobData {
  readonly productId: string;
  readonly exportId: string;
}
