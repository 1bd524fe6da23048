import { createSha256, type Hasher } from './sha256.js';

/**
 * A Node writable stream, such as `process.stdout` or `fs.createWriteStream(path)`, as
 * {@link ExportTask.getFile} uses it: described here so that the package's types need no
 * `@types/node`.
 *
 * @example
 * ```ts
 * const out: NodeWritable = process.stdout;
 * await task.getFile(out);
 * ```
 */
export interface NodeWritable {
  /** Writes a chunk; `false` asks to wait for `'drain'`. */
  write(chunk: Uint8Array): boolean;
  /** Ends the stream, calling back once everything is flushed. */
  end(callback?: () => void): unknown;
  /** Listens to the stream's errors. */
  on(event: 'error', listener: (error: Error) => void): unknown;
  /** Listens once to `'drain'` or `'error'`. */
  once(event: 'drain' | 'error', listener: (error?: Error) => void): unknown;
  /** Stops listening. */
  off(event: 'drain' | 'error', listener: (error: Error) => void): unknown;
  /** Destroys the stream (a failed download), where the stream can. */
  destroy?(error?: Error): unknown;
}

/**
 * Where {@link ExportTask.getFile} writes: a path (Node only), a Node writable stream or a WHATWG `WritableStream`.
 *
 * @example
 * ```ts
 * await task.getFile('roads.ndjson'); // a path: written atomically
 * await task.getFile(process.stdout); // a Node stream
 * await task.getFile(new WritableStream<Uint8Array>({ write: (chunk) => void console.log(chunk.byteLength) }));
 * ```
 */
export type FileTarget = string | NodeWritable | WritableStream<Uint8Array>;

/** What the backend said of the file, to verify against. */
export interface ExpectedFile {
  readonly size: number | null;
  readonly sha256: string | null;
  readonly signal: AbortSignal | undefined;
  readonly key: string;
}

/** Where downloaded bytes go; `abort` undoes what it can (a path target deletes its temporary file). */
export interface ByteSink {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
  abort(reason: unknown): Promise<void>;
}

/**
 * The downloaded file does not match what the backend reported: its size or its SHA-256
 * differs. A path target is then left as it was.
 *
 * @example
 * ```ts
 * await task.getFile('roads.ndjson').catch((error: unknown) => {
 *   if (error instanceof DownloadVerificationError) console.error('corrupt download, nothing written:', error.message);
 *   else throw error;
 * });
 * ```
 */
export class DownloadVerificationError extends Error {
  /** The class name: `error.name === 'DownloadVerificationError'`. */
  override readonly name = 'DownloadVerificationError' as const;
  /** `error.code === 'EXPORT_TASK_DOWNLOAD_VERIFICATION'`. */
  readonly code = 'EXPORT_TASK_DOWNLOAD_VERIFICATION' as const;
}

/**
 * Streams `body` into `target`, hashing and counting as it goes, and fails (undoing what the
 * target allows) when the bytes do not match the expected size and SHA-256 or the signal aborts.
 * @internal
 */
export async function downloadTo(
  body: ReadableStream<Uint8Array>,
  target: FileTarget,
  expected: ExpectedFile,
  openFile: ((path: string) => Promise<ByteSink>) | undefined,
): Promise<void> {
  let hash: Hasher | undefined;
  let sink: ByteSink;
  try {
    hash = expected.sha256 === null ? undefined : await createSha256();
    sink = typeof target === 'string' ? await openPathSink(target, openFile) : isWebWritable(target) ? webSink(target) : nodeSink(target);
  } catch (error) {
    await body.cancel(error).catch(() => undefined);
    throw error;
  }
  const reader = body.getReader();
  let size = 0;
  const onAbort = (): void => void reader.cancel(expected.signal?.reason).catch(() => undefined);
  expected.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      expected.signal?.throwIfAborted();
      const { done, value } = await reader.read();
      expected.signal?.throwIfAborted();
      if (done) break;
      size += value.byteLength;
      if (expected.size !== null && size > expected.size) {
        throw new DownloadVerificationError(`Download of ${expected.key} is larger than the ${expected.size} bytes the export reported`);
      }
      hash?.update(value);
      await sink.write(value);
    }
    if (expected.size !== null && size !== expected.size) {
      throw new DownloadVerificationError(`Download of ${expected.key} has ${size} bytes; the export reported ${expected.size}`);
    }
    const digest = hash?.digest();
    if (digest !== undefined && digest !== expected.sha256) {
      throw new DownloadVerificationError(`Download of ${expected.key} has SHA-256 ${digest}; the export reported ${expected.sha256}`);
    }
    await sink.close();
  } catch (error) {
    await reader.cancel(error).catch(() => undefined);
    await sink.abort(error).catch(() => undefined);
    throw error;
  } finally {
    expected.signal?.removeEventListener('abort', onAbort);
    reader.releaseLock();
  }
}

function isWebWritable(target: object): target is WritableStream<Uint8Array> {
  return typeof (target as WritableStream).getWriter === 'function';
}

function openPathSink(path: string, openFile: ((path: string) => Promise<ByteSink>) | undefined): Promise<ByteSink> {
  // Node's entry gives the file system; the browser entry has none, so no bundle holds it.
  if (openFile === undefined) return Promise.reject(new TypeError(`A path target (${JSON.stringify(path)}) needs Node's file system; give a WritableStream<Uint8Array>`));
  return openFile(path);
}

function webSink(target: WritableStream<Uint8Array>): ByteSink {
  const writer = target.getWriter();
  return {
    write: (chunk) => writer.write(chunk),
    close: async () => {
      await writer.close();
      writer.releaseLock();
    },
    abort: async (reason) => {
      await writer.abort(reason);
      writer.releaseLock();
    },
  };
}

function nodeSink(stream: NodeWritable): ByteSink {
  let failure: Error | undefined;
  const onError = (error: Error): void => {
    failure = error;
  };
  stream.on('error', onError);
  return {
    write: (chunk) =>
      new Promise<void>((resolve, reject) => {
        if (failure) return reject(failure);
        // Respect backpressure: wait for 'drain' when the stream's buffer is full.
        if (stream.write(chunk)) resolve();
        else {
          const done = (error?: Error): void => {
            stream.off('drain', done);
            stream.off('error', done);
            if (error) reject(error);
            else resolve();
          };
          stream.once('drain', done);
          stream.once('error', done);
        }
      }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        stream.off('error', onError);
        if (failure) return reject(failure);
        stream.end(() => resolve());
      }),
    abort: (reason) => {
      stream.off('error', onError);
      stream.destroy?.(reason instanceof Error ? reason : new Error(String(reason)));
      return Promise.resolve();
    },
  };
}
