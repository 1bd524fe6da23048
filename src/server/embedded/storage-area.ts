import { randomUUID } from 'node:crypto';
import { lstat, mkdir, open, readdir, realpath, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { BadRequestError, NotFoundError } from '../../client/http-errors.js';
import { checkStorageKey } from '../../internal/storage-key.js';

/** Bytes read from a stored file per pull of its stream. */
const READ_CHUNK = 64 * 1024;

/** The name of the temporary file an export job writes before it is renamed into place. */
const TEMP_NAME = /^\.export-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.tmp$/;

/** A stored file opened for reading. @internal */
export interface StoredFile {
  /** Its size in bytes when it was opened. */
  readonly size: number;
  /** Its bytes, read as the consumer pulls. */
  readonly stream: ReadableStream<Uint8Array>;
}

/** Where an export writes, and what it renames into place when it succeeds. @internal */
export interface ExportTarget {
  readonly target: string;
  readonly temp: string;
}

/**
 * The storage area: the directory exported files live in, addressed by storage key. Every
 * path is checked twice, as text (the key is safe, the resolved path is inside) and on disk
 * (no directory on the way is a symbolic link out), so nothing is read or written elsewhere.
 * @internal
 */
export class StorageArea {
  readonly #root: string;
  readonly #open = new Set<() => void>();

  constructor(root: string) {
    this.#root = resolve(root);
  }

  /**
   * The absolute path of `key`.
   * @throws BadRequestError for an unsafe key.
   */
  resolve(key: unknown): string {
    let path: string;
    try {
      path = resolve(this.#root, checkStorageKey(key));
    } catch (error) {
      throw new BadRequestError((error as Error).message);
    }
    if (!path.startsWith(this.#root + sep)) {
      throw new BadRequestError(`Expected the storage key to stay inside the storage area, got ${JSON.stringify(key)}`);
    }
    return path;
  }

  /**
   * Makes the directories of `key` (each a real directory inside the area, never a link) and
   * picks a temporary file beside the target.
   */
  async prepare(key: string): Promise<ExportTarget> {
    const target = this.resolve(key);
    await mkdir(this.#root, { recursive: true });
    let dir = this.#root;
    for (const segment of key.split('/').slice(0, -1)) {
      dir = join(dir, segment);
      try {
        await mkdir(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      // lstat, not stat: a symbolic link here could lead the export's writes out of the area.
      if (!(await lstat(dir)).isDirectory()) {
        throw new Error(`Cannot write ${JSON.stringify(key)}: ${JSON.stringify(dir.slice(this.#root.length + 1))} exists and is not a directory`);
      }
    }
    return { target, temp: join(dirname(target), `.export-${randomUUID()}.tmp`) };
  }

  /**
   * Removes the temporary files of export jobs that were cut short (the process died while
   * they ran). Only for a service starting on its data directory, when no job runs.
   * @returns How many files were removed.
   */
  async removeTemporaryFiles(): Promise<number> {
    let entries;
    try {
      entries = await readdir(this.#root, { recursive: true, withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw error;
    }
    let removed = 0;
    for (const entry of entries) {
      if (!entry.isFile() || !TEMP_NAME.test(entry.name)) continue;
      await rm(join(entry.parentPath, entry.name), { force: true });
      removed++;
    }
    return removed;
  }

  /**
   * A stream of the file at `key`, read as the consumer pulls.
   * @throws BadRequestError for an unsafe key, NotFoundError when no file is there.
   */
  async read(key: string, signal: AbortSignal | undefined): Promise<ReadableStream<Uint8Array>> {
    return (await this.open(key, signal)).stream;
  }

  /**
   * Opens the file at `key` for reading: its size and a stream of it.
   * @throws BadRequestError for an unsafe key, NotFoundError when no file is there.
   */
  async open(key: string, signal: AbortSignal | undefined): Promise<StoredFile> {
    signal?.throwIfAborted();
    const path = this.resolve(key);
    const notFound = (): NotFoundError => new NotFoundError(`No file in storage at ${JSON.stringify(key)}: check the key, or wait until its export succeeded`);
    let file: FileHandle;
    try {
      file = await open(path, 'r');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') throw notFound();
      throw error;
    }
    let size: number;
    try {
      const root = await realpath(this.#root);
      const real = await realpath(path);
      if (!real.startsWith(root + sep)) throw notFound();
      const stats = await file.stat();
      if (!stats.isFile()) throw notFound();
      size = stats.size;
      signal?.throwIfAborted();
    } catch (error) {
      await file.close();
      throw error;
    }
    return { size, stream: this.#stream(file, signal) };
  }

  /** Errors every stream still open: the service is closing. */
  close(): void {
    for (const stop of [...this.#open]) stop();
    this.#open.clear();
  }

  #stream(file: FileHandle, signal: AbortSignal | undefined): ReadableStream<Uint8Array> {
    let closed = false;
    const release = (): void => {
      if (closed) return;
      closed = true;
      this.#open.delete(stop);
      signal?.removeEventListener('abort', abort);
      void file.close().catch(() => undefined);
    };
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const fail = (reason: unknown): void => {
      if (closed) return;
      release();
      controller.error(reason);
    };
    const abort = (): void => fail(signal?.reason);
    const stop = (): void => fail(new Error('The embedded export service was closed while this file was being read'));
    this.#open.add(stop);
    signal?.addEventListener('abort', abort, { once: true });
    return new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
      },
      pull: async (c) => {
        const buffer = new Uint8Array(READ_CHUNK);
        try {
          const { bytesRead } = await file.read(buffer, 0, READ_CHUNK, null);
          if (closed) return;
          if (bytesRead === 0) {
            release();
            c.close();
          } else {
            c.enqueue(buffer.subarray(0, bytesRead));
          }
        } catch (error) {
          fail(error);
        }
      },
      cancel: () => release(),
    });
  }
}
