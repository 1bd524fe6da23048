/** An incremental SHA-256. @internal */
export interface Hasher {
  update(data: Uint8Array): unknown;
  /** Lower-case hex. */
  digest(): string;
}

/**
 * A new incremental SHA-256 for verifying a download as it streams: `node:crypto`'s where the
 * runtime has it (Node; Deno and Bun too, which answer `process.versions.node`), else the audited
 * `@noble/hashes` (browsers: WebCrypto's `digest` takes one whole buffer, so it cannot hash a
 * stream as it arrives). Either is loaded on first use, so a browser app loads neither with the
 * entry point, and one that never verifies a download never loads one.
 *
 * @param runtime - The global object whose `process` says whether `node:crypto` is there (tests
 *   pass `{}` to get the browsers' hasher in Node).
 * @internal
 */
export async function createSha256(runtime: object = globalThis): Promise<Hasher> {
  const versions = (runtime as { process?: { versions?: { node?: unknown } } }).process?.versions;
  if (typeof versions?.node === 'string') {
    const { nodeSha256 } = await import('./node/node-sha256.js');
    return nodeSha256();
  }
  const [{ sha256 }, { bytesToHex }] = await Promise.all([import('@noble/hashes/sha2'), import('@noble/hashes/utils')]);
  const hash = sha256.create();
  return {
    update: (data) => hash.update(data),
    digest: () => bytesToHex(hash.digest()),
  };
}
