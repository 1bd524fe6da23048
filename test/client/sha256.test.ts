/**
 * The SHA-256 downloads are verified with, in both of its forms: `node:crypto`'s (what a runtime
 * with `process.getBuiltinModule` gets: Node) and `@noble/hashes`' (browsers, and older Nodes),
 * each against the FIPS 180-4 examples and against node:crypto itself, fed in chunks that cut the
 * 64-byte blocks anywhere.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSha256 } from '../../src/client/sha256.js';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

/** FIPS 180-4's examples (and the NIST one-million-"a" message). */
const VECTORS: [string, Uint8Array, string][] = [
  ['the empty message', new Uint8Array(0), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
  ['"abc"', encode('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
  ['the 448-bit message', encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1'],
  ['one million "a"', new Uint8Array(1_000_000).fill(0x61), 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0'],
];

const RUNTIMES: [string, object | undefined][] = [
  ['in Node (node:crypto)', undefined],
  ['in a browser: no process (@noble/hashes)', {}],
  ['where process has no getBuiltinModule, Node before 20.16 (@noble/hashes)', { process: { versions: { node: '20.10.0' } } }],
];

function inChunks(data: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < data.length; offset += size) chunks.push(data.subarray(offset, offset + size));
  return chunks;
}

describe.each(RUNTIMES)('createSha256 %s', (_name, runtime) => {
  it.each(VECTORS)('hashes %s to the FIPS digest, whole and in chunks of any size', async (_what, message, expected) => {
    // Byte by byte only for the short messages: a million calls would take seconds for nothing.
    const sizes = message.length > 1000 ? [message.length, 63, 64, 65, 4096] : [message.length || 1, 1, 3, 63, 64, 65, 4096];
    for (const size of sizes) {
      const hash = await createSha256(runtime);
      for (const chunk of inChunks(message, size)) hash.update(chunk);
      expect(hash.digest()).toBe(expected);
    }
  });

  it('agrees with node:crypto on pseudo-random bytes cut at pseudo-random places', async () => {
    let seed = 7;
    const next = (): number => (seed = (seed * 1_103_515_245 + 12_345) >>> 0);
    const data = Uint8Array.from({ length: 300_000 }, () => next() & 0xff);
    const hash = await createSha256(runtime);
    for (let offset = 0; offset < data.length; ) {
      const size = 1 + (next() % 5000);
      hash.update(data.subarray(offset, offset + size));
      offset += size;
    }
    expect(hash.digest()).toBe(createHash('sha256').update(data).digest('hex'));
  });
});

describe('which SHA-256 createSha256 takes', () => {
  it('asks the runtime for node:crypto and uses it where the runtime has it, as Node does', async () => {
    expect(typeof process.getBuiltinModule).toBe('function');
    const asked: string[] = [];
    const hashed: number[] = [];
    const runtime = {
      process: {
        getBuiltinModule: (id: string) => {
          asked.push(id);
          return {
            createHash: (algorithm: string) => {
              const hash = createHash(algorithm);
              return { update: (data: Uint8Array) => (hashed.push(data.length), hash.update(data)), digest: (encoding: 'hex') => hash.digest(encoding) };
            },
          };
        },
      },
    };
    const hash = await createSha256(runtime);
    hash.update(encode('ab'));
    hash.update(encode('c'));
    expect(hash.digest()).toBe(VECTORS[1]![2]);
    expect(asked).toEqual(['node:crypto']);
    expect(hashed).toEqual([2, 1]);
  });
});
