import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { ByteSink } from '../download.js';

/**
 * A file written atomically: bytes go to a temporary file in the same directory (so the rename
 * cannot cross file systems), which is flushed to disk and renamed over the target only once
 * complete. A failed or aborted download removes the temporary file and leaves any existing
 * target untouched.
 * @internal
 */
export async function openAtomicFile(path: string): Promise<ByteSink> {
  const target = resolve(path);
  const temporary = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.part`);
  const handle = await open(temporary, 'wx');
  let open_ = true;
  const closeHandle = async (): Promise<void> => {
    if (!open_) return;
    open_ = false;
    await handle.close();
  };
  return {
    write: async (chunk) => {
      let offset = 0;
      while (offset < chunk.byteLength) {
        const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
        offset += bytesWritten;
      }
    },
    close: async () => {
      try {
        await handle.sync();
        await closeHandle();
        await rename(temporary, target);
      } catch (error) {
        await closeHandle().catch(() => undefined);
        await unlink(temporary).catch(() => undefined);
        throw error;
      }
    },
    abort: async () => {
      await closeHandle().catch(() => undefined);
      await unlink(temporary).catch(() => undefined);
    },
  };
}
