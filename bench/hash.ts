/**
 * `npm run bench:hash`: the SHA-256 a download is verified with, as CPU time per MiB against
 * `node:crypto` in the same process. Each hasher takes the same 32 MiB in 64 KiB chunks (the
 * size a stored file is read and a response body arrives in), 7 rounds after a warm-up, median
 * round; the clock is the process's CPU time, so other processes on a shared machine do not count.
 *
 * - `node:crypto`: what the client hashes with in Node (downloads) and export jobs use.
 * - `@noble/hashes`: what it hashes with where there is no `node:crypto` (browsers): the same
 *   JavaScript runs in V8 here as in Chromium.
 * - WebCrypto `subtle.digest`: a reference only, it cannot hash incrementally (it takes the whole
 *   file at once), so a streamed download cannot use it.
 *
 * `--json` prints the rows as JSON instead of a table.
 */
import { createHash, webcrypto } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';

const TOTAL = 32 * 1024 * 1024;
const CHUNK = 64 * 1024;
const ROUNDS = 7;

interface Row {
  readonly hasher: string;
  readonly cpuMsPerMiB: number;
  readonly mibPerCpuSecond: number;
  readonly ratioToNode: number;
}

const chunks = Array.from({ length: TOTAL / CHUNK }, (_, i) => {
  const chunk = new Uint8Array(CHUNK);
  for (let j = 0; j < CHUNK; j++) chunk[j] = (i * 31 + j * 7) & 0xff;
  return chunk;
});
const whole = new Uint8Array(TOTAL);
chunks.forEach((chunk, i) => whole.set(chunk, i * CHUNK));

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function median(run: () => Promise<string> | string): Promise<{ ms: number; digest: string }> {
  let digest = await run();
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const start = cpuMs();
    digest = await run();
    times.push(cpuMs() - start);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(ROUNDS / 2)]!, digest };
}

const cases: [string, () => Promise<string> | string][] = [
  [
    'node:crypto createHash',
    () => {
      const hash = createHash('sha256');
      for (const chunk of chunks) hash.update(chunk);
      return hash.digest('hex');
    },
  ],
  [
    '@noble/hashes sha256.create',
    () => {
      const hash = sha256.create();
      for (const chunk of chunks) hash.update(chunk);
      return bytesToHex(hash.digest());
    },
  ],
  ['WebCrypto subtle.digest (one shot)', async () => Buffer.from(await webcrypto.subtle.digest('SHA-256', whole)).toString('hex')],
];

const results: { hasher: string; ms: number; digest: string }[] = [];
for (const [hasher, run] of cases) results.push({ hasher, ...(await median(run)) });

const digests = new Set(results.map((r) => r.digest));
if (digests.size !== 1) throw new Error(`The hashers disagree: ${results.map((r) => `${r.hasher} ${r.digest}`).join(', ')}`);

const mib = TOTAL / (1024 * 1024);
const nodeMs = results[0]!.ms;
const rows: Row[] = results.map((r) => ({
  hasher: r.hasher,
  cpuMsPerMiB: r.ms / mib,
  mibPerCpuSecond: mib / (r.ms / 1000),
  ratioToNode: r.ms / nodeMs,
}));

if (process.argv.includes('--json')) {
  console.log(JSON.stringify(rows));
} else {
  console.log(`SHA-256 of ${mib} MiB in ${CHUNK / 1024} KiB chunks, median of ${ROUNDS} rounds (CPU time)`);
  console.log('| hasher | CPU ms per MiB | MiB per CPU second | ratio to node:crypto |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const row of rows) {
    console.log(`| ${row.hasher} | ${row.cpuMsPerMiB.toFixed(2)} | ${row.mibPerCpuSecond.toFixed(0)} | ${row.ratioToNode.toFixed(2)}x |`);
  }
}
