/**
 * Pins fast-check's global seed so that every property failure can be replayed.
 *
 * - `FC_SEED`: the seed (an integer). Random when unset; either way it is printed when a test
 *   of the file fails, so `FC_SEED=<seed> npx vitest run <file>` replays the run.
 * - `FC_RUNS`: runs per property (default 1000; the CI runs at least that many).
 *
 * fast-check's own failure message also names the seed and the counterexample's `path`; this
 * setup makes the seed the same for every property of a run, so one number replays them all.
 */
import fc from 'fast-check';
import { afterAll, afterEach } from 'vitest';

function readInteger(name: string, fallback: () => number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback();
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new TypeError(`Expected the env variable ${name} to be an integer, got ${JSON.stringify(raw)}`);
  return value;
}

// fast-check takes a 32-bit seed; `| 0` keeps the random one in range.
const seed = readInteger('FC_SEED', () => (Math.random() * 0x1_0000_0000) | 0);
const numRuns = readInteger('FC_RUNS', () => 1000);
if (numRuns < 1) throw new TypeError(`Expected FC_RUNS to be a positive integer, got ${numRuns}`);

fc.configureGlobal({ seed, numRuns });

let failed = false;

afterEach(({ task }) => {
  if (task.result?.state === 'fail') failed = true;
});

afterAll(() => {
  if (failed) console.log(`fast-check seed: ${seed} (replay with FC_SEED=${seed} FC_RUNS=${numRuns})`);
});
