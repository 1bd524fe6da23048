/**
 * `npm run bench:input`: what hostile input costs the reference service (issue 13), on a real
 * server on 127.0.0.1, as ratios measured in this run.
 *
 * 1. `like` over values 10x and 100x longer, with the pattern that made the old RegExp
 *    backtrack for ever (`%` 24 times, then `x`) and one with `_` (`%_` 12 times, then `x`):
 *    the time grows with the value's length, about 10x per step, not with the pattern.
 * 2. Status requests answered while a 1M-feature upload (19 MB) runs: the slowest one against
 *    the upload's whole time (the upload used to hold the main thread: 8.7 s for a GET).
 *
 * Writes `bench/results/input.json`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileLike } from '../src/internal/like-pattern.js';
import { startServer } from '../src/server/index.js';

const quick = process.argv.includes('--quick');

interface LikeRow {
  readonly pattern: string;
  readonly length: number;
  readonly ms: number;
  readonly ratioToPrevious: number | null;
}

function likeScaling(pattern: string): LikeRow[] {
  const matches = compileLike(pattern);
  const rows: LikeRow[] = [];
  for (const length of [10_000, 100_000, 1_000_000]) {
    const value = 'a'.repeat(length);
    const runs = 20;
    matches(value);
    const started = performance.now();
    for (let i = 0; i < runs; i++) if (matches(value)) throw new Error('The pattern cannot match a value without an x');
    const ms = (performance.now() - started) / runs;
    const previous = rows.at(-1);
    rows.push({ pattern, length, ms: Math.round(ms * 10_000) / 10_000, ratioToPrevious: previous === undefined ? null : Math.round((ms / previous.ms) * 10) / 10 });
  }
  return rows;
}

async function uploadWhileServing(count: number): Promise<Record<string, number>> {
  await using server = await startServer({ port: 0 });
  const post = (path: string, body: string): Promise<Response> =>
    fetch(`${server.url}/vector/v2/products${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await (await post('', '{"id":"p"}')).text();
  const body = `[${Array<string>(count).fill('{"type":"Feature"}').join(',')}]`;
  const started = performance.now();
  let done = false;
  const upload = post('/p/features', body).then(async (response) => {
    if (!response.ok) throw new Error(`The upload answered ${response.status}: ${await response.text()}`);
    await response.text();
    done = true;
  });
  const latencies: number[] = [];
  while (!done) {
    const sent = performance.now();
    await (await fetch(`${server.url}/vector/v2/products/p`)).text();
    if (!done) latencies.push(performance.now() - sent);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await upload;
  const uploadMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const max = latencies.at(-1) ?? 0;
  return {
    features: count,
    bodyBytes: body.length,
    uploadMs: Math.round(uploadMs),
    statusRequests: latencies.length,
    p50Ms: Math.round(latencies[latencies.length >> 1] ?? 0),
    maxMs: Math.round(max),
    maxOverUpload: Math.round((max / uploadMs) * 1000) / 1000,
  };
}

// Literals and `%` only (the engine's own string search), and with `_` (code point by code point).
const like = [...likeScaling(`${'%'.repeat(24)}x`), ...likeScaling(`${'%_'.repeat(12)}x`)];
console.log('like over longer values that do not match:');
for (const row of like) {
  console.log(`  ${row.pattern} over ${row.length.toLocaleString('en')} chars: ${row.ms} ms${row.ratioToPrevious === null ? '' : ` (${row.ratioToPrevious}x the previous)`}`);
}
const upload = await uploadWhileServing(quick ? 200_000 : 1_000_000);
console.log(`upload of ${upload.features!.toLocaleString('en')} features while serving status requests:`, upload);

const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'input.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ like, upload }, null, 2)}\n`);
console.log(`wrote ${out}`);
