/**
 * Options of `createEmbeddedBackend` (from `export-task/embedded`), and of `createClient({ embedded })` in Node.
 * (They live with the client, so that the client's types need nothing of the service.)
 *
 * @example
 * ```ts
 * const client = createClient({ embedded: { dataDir: './export-data', jobTimeoutMs: 60_000, jobMemoryMb: 256 } satisfies EmbeddedBackendOptions });
 * ```
 */
export interface EmbeddedBackendOptions {
  /**
   * The directory holding products (`products/`) and exported files (`storage/`). Products
   * found there are loaded, so a service can be reopened on the same directory.
   * @defaultValue a new temporary directory under the OS's temp directory, removed by `close()`
   * (a directory you give is never removed)
   */
  readonly dataDir?: string | undefined;
  /**
   * How long one export job may run, in ms, before it fails with `failure_type: "timeout"`.
   * An export's own `limits.timeoutMs` wins over it.
   * @defaultValue unlimited
   */
  readonly jobTimeoutMs?: number | undefined;
  /**
   * How much heap (V8's old generation) one export job may use, in MiB, before it fails with
   * `failure_type: "oom"`. An export's own `limits.memoryMb` wins over it.
   * @defaultValue unlimited (no resource limits on the job's worker)
   */
  readonly jobMemoryMb?: number | undefined;
  /**
   * How many export jobs run at once; the others wait in a first-come, first-served queue.
   * @defaultValue `os.availableParallelism()`
   */
  readonly concurrency?: number | undefined;
  /**
   * How many completed exports one page of `listExports` holds.
   * @defaultValue 100
   */
  readonly pageSize?: number | undefined;
}

