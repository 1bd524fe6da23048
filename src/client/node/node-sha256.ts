import { createHash } from 'node:crypto';
import type { Hasher } from '../sha256.js';

/**
 * An incremental SHA-256 by `node:crypto` (OpenSSL, with the CPU's SHA instructions where it
 * has them): nine times the throughput of the JavaScript one (`npm run bench:hash`).
 * @internal
 */
export function nodeSha256(): Hasher {
  const hash = createHash('sha256');
  return {
    update: (data) => hash.update(data),
    digest: () => hash.digest('hex'),
  };
}
