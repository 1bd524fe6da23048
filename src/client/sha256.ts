/** An incremental SHA-256. @internal */
export interface Hasher {
  update(data: Uint8Array): unknown;
  /** Lower-case hex. */
  digest(): string;
}

/** What this module uses of `node:crypto`, typed here so the client needs no `@types/node`. */
interface NodeCrypto {
  createHash(algorithm: 'sha256'): { update(data: Uint8Array): unknown; digest(encoding: 'hex'): string };
}

/** The part of a global object that tells whether it is Node's (Deno and Bun have it too). */
interface Runtime {
  readonly process?: { readonly getBuiltinModule?: (id: string) => unknown } | undefined;
}

/**
 * A new incremental SHA-256 for verifying a download as it streams. Where the runtime has
 * `node:crypto` (Node 20.16 and later, Deno, Bun: `process.getBuiltinModule`), its hash, nine
 * times the throughput of JavaScript's (`npm run bench:hash`); elsewhere (browsers) the audited
 * `@noble/hashes`, loaded on first use. WebCrypto is no option: its `digest` takes one whole
 * buffer, so it cannot hash a stream as it arrives. `node:crypto` is asked of the runtime, never
 * imported, so no bundler puts it in a browser build.
 *
 * @param runtime - The global object to ask for `node:crypto` (tests pass others).
 * @internal
 */
export async function createSha256(runtime: object = globalThis): Promise<Hasher> {
  const process = (runtime as Runtime).process;
  const crypto = typeof process?.getBuiltinModule === 'function' ? (process.getBuiltinModule('node:crypto') as NodeCrypto | undefined) : undefined;
  if (crypto !== undefined) {
    const hash = crypto.createHash('sha256');
    return { update: (data) => hash.update(data), digest: () => hash.digest('hex') };
  }
  const [{ sha256 }, { bytesToHex }] = await Promise.all([import('@noble/hashes/sha2'), import('@noble/hashes/utils')]);
  const hash = sha256.create();
  return { update: (data) => hash.update(data), digest: () => bytesToHex(hash.digest()) };
}
