/**
 * Timing and memory on top of mitata: every case is a whole round (N tasks), measured several
 * times after a warm-up round, with its setup kept out of the timing. The median round is what
 * counts; machines are shared and noisy, so the clock is the process's CPU time.
 */
import { do_not_optimize, measure } from 'mitata';

function requireGc(): (options?: { type: 'major' | 'minor' }) => void {
  const gc = globalThis.gc as ((options?: { type: 'major' | 'minor' }) => void) | undefined;
  if (typeof gc !== 'function') {
    throw new Error('The benchmarks need a GC they can trigger: run them with `node --expose-gc` (`npm run bench` does).');
  }
  return gc;
}

/** Fails at once, before anything is measured, when the GC cannot be triggered. */
export function checkGcExposed(): void {
  requireGc();
}

export function collectGarbage(): void {
  const gc = requireGc();
  // Twice: the first pass can leave finalizable objects for the second.
  gc();
  gc();
}

/**
 * The clock: CPU time of this process (user + system, every thread: GC helpers count), in ns.
 * Not wall-clock time, so that other processes on a shared machine do not count.
 */
export function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
}

/**
 * Lets the setup's survivors leave the young generation (two scavenges promote them), so that
 * a round does not pay for copying what its setup built, as a long-running application would
 * not. A full GC would not do: after one, V8 shrinks the young generation, and until it has
 * grown back every scavenge copies the live tasks again, which made the rounds after it about
 * twice as slow. So no timing follows a full GC: the heap measures run last.
 */
function settleYoungGeneration(): void {
  const gc = requireGc();
  gc({ type: 'minor' });
  gc({ type: 'minor' });
}

/**
 * Median time of `run` in ns, per input, over `rounds` rounds after a warm-up round.
 * `setup` builds a fresh input for each run (not timed); a round runs `repeat` fresh inputs one
 * after the other, so that a round of few tasks lasts long enough to time well and takes its
 * share of garbage collection (a median of short rounds would skip the rounds a GC falls in).
 * `run` may be async. Garbage is collected as it would be in an application (no forced GC);
 * the warm-up round absorbs what the previous measure left behind.
 */
export async function medianTime<T>(
  setup: () => T | Promise<T>,
  run: (input: T) => unknown,
  rounds: number,
  repeat = 1,
): Promise<number> {
  return median(await sampleTimes(setup, run, rounds, repeat));
}

/** A variant of a comparison: how to build one input, and the work to time on it. */
export interface Variant<T> {
  readonly setup: () => T | Promise<T>;
  readonly run: (input: T) => unknown;
}

/** What {@link compareTimes} answers. */
export interface Comparison<TNames extends string> {
  /** Median time of each variant, in ns per input. */
  readonly times: Record<TNames, number>;
  /** The median, over the rounds, of `a`'s time over `b`'s in the same round. */
  readonly ratio: (a: TNames, b: TNames) => number;
}

/**
 * Times several variants in the same rounds: each round builds a fresh input for every variant
 * (not timed), then times them one after the other, the order rotating from round to round, so
 * that a slow spell of a shared machine falls on all of them. A ratio is taken within each
 * round, then the median of the rounds; two medians measured minutes apart would carry the
 * load of two different minutes. One warm-up round first.
 *
 * With `rounds` 1 (the slow alternatives at the largest size, once the JIT is warm from the
 * smaller sizes) the variants are timed once, without a warm-up round.
 */
export async function compareTimes<TNames extends string>(
  variants: Record<TNames, Variant<never>>,
  rounds: number,
  repeat = 1,
): Promise<Comparison<TNames>> {
  const entries = Object.entries(variants) as [TNames, Variant<unknown>][];
  const samples = new Map<TNames, number[]>(entries.map(([name]) => [name, []]));
  let round = 0;
  const prepare = async (): Promise<unknown[][]> => {
    const inputs: unknown[][] = [];
    for (const [, variant] of entries) {
      const list: unknown[] = [];
      for (let i = 0; i < repeat; i++) list.push(await variant.setup());
      inputs.push(list);
    }
    settleYoungGeneration();
    return inputs;
  };
  const timeRound = async (inputs: unknown[][]): Promise<number> => {
    let total = 0;
    for (let k = 0; k < entries.length; k++) {
      const v = (k + round) % entries.length;
      const [name, variant] = entries[v]!;
      // The previous variant's young garbage is collected here, not in this variant's time.
      if (k > 0) settleYoungGeneration();
      let time = 0;
      for (const input of inputs[v]!) time += await timeOne(variant.run, input);
      samples.get(name)!.push(time / repeat);
      total += time;
    }
    round++;
    return total;
  };
  if (rounds <= 1) {
    await timeRound(await prepare());
  } else {
    await measure(
      function* () {
        yield { [0]: prepare, manual: timeRound };
      },
      { now: cpuNow, min_samples: rounds, max_samples: rounds, min_cpu_time: 0, batch_threshold: -1, warmup_samples: 1 },
    );
  }
  // The warm-up round(s) came first.
  const kept = new Map([...samples].map(([name, times]) => [name, times.slice(-Math.max(1, rounds))]));
  return {
    times: Object.fromEntries([...kept].map(([name, times]) => [name, median(times)])) as Record<TNames, number>,
    ratio: (a, b) => median(kept.get(a)!.map((t, i) => t / kept.get(b)![i]!)),
  };
}

/** Declares a variant with its input type checked. */
export function variant<T>(setup: () => T | Promise<T>, run: (input: T) => unknown): Variant<never> {
  return { setup, run } as unknown as Variant<never>;
}

async function timeOne<T>(run: (input: T) => unknown, input: T): Promise<number> {
  const t0 = cpuNow();
  const result = run(input);
  if (result instanceof Promise) await result;
  return cpuNow() - t0;
}

/** What {@link pairedCosts} answers for one subject, in ns per input (medians of the rounds). */
export interface PairedCost {
  /** The subject's time minus the control's, round by round. */
  readonly cost: number;
  readonly control: number;
  readonly subject: number;
}

/**
 * What each subject costs over `control` (for example, final events applied with waits
 * attached, over the same events with none), in ns per input. Each round builds fresh inputs
 * for the control and every subject (not timed), then times them one after the other on them,
 * the order rotating from round to round, so that all see the same spell of a shared machine;
 * a subject's time minus the control's in the same round is a sample. (A difference of two
 * medians taken minutes apart would be mostly noise.) The young garbage of one is collected
 * before the next is timed.
 *
 * With `rounds` 1 (the slow alternatives at the largest size, once the JIT is warm from the
 * smaller sizes) they are timed once, without a warm-up round.
 */
export async function pairedCosts<T, TNames extends string>(
  setup: () => T | Promise<T>,
  control: (input: T) => unknown,
  subjects: Record<TNames, (input: T) => unknown>,
  rounds: number,
  repeat = 1,
): Promise<Record<TNames, PairedCost>> {
  const runs: [string, (input: T) => unknown][] = [['', control], ...(Object.entries(subjects) as [TNames, (input: T) => unknown][])];
  const times: number[][] = runs.map(() => []);
  let round = 0;
  const prepare = async (): Promise<T[][]> => {
    const inputs: T[][] = [];
    for (let i = 0; i < repeat; i++) {
      const set: T[] = [];
      for (let k = 0; k < runs.length; k++) set.push(await setup());
      inputs.push(set);
    }
    settleYoungGeneration();
    return inputs;
  };
  const timeRound = async (inputs: T[][]): Promise<number> => {
    const sums = runs.map(() => 0);
    for (const set of inputs) {
      for (let k = 0; k < runs.length; k++) {
        const v = (k + round) % runs.length;
        sums[v]! += await timeOne(runs[v]![1], set[v]!);
        settleYoungGeneration();
      }
    }
    round++;
    sums.forEach((sum, v) => times[v]!.push(sum / repeat));
    return sums.reduce((a, b) => a + b, 0);
  };
  if (rounds <= 1) {
    await timeRound(await prepare());
  } else {
    await measure(
      function* () {
        yield { [0]: prepare, manual: timeRound };
      },
      { now: cpuNow, min_samples: rounds, max_samples: rounds, min_cpu_time: 0, batch_threshold: -1, warmup_samples: 1 },
    );
  }
  // The warm-up round(s) came first.
  const kept = times.map((list) => list.slice(-Math.max(1, rounds)));
  const controls = kept[0]!;
  return Object.fromEntries(
    runs.slice(1).map(([name], i) => {
      const own = kept[i + 1]!;
      return [name, { cost: median(own.map((t, r) => t - controls[r]!)), control: median(controls), subject: median(own) }];
    }),
  ) as Record<TNames, PairedCost>;
}

/** {@link pairedCosts} of one subject. */
export async function pairedCost<T>(
  setup: () => T | Promise<T>,
  control: (input: T) => unknown,
  subject: (input: T) => unknown,
  rounds: number,
  repeat = 1,
): Promise<PairedCost> {
  return (await pairedCosts(setup, control, { subject }, rounds, repeat)).subject;
}

async function sampleTimes<T>(setup: () => T | Promise<T>, run: (input: T) => unknown, rounds: number, repeat: number): Promise<number[]> {
  if (rounds <= 1) {
    // Timed once, without a warm-up round: for the slow alternatives at the largest size.
    const inputs: T[] = [];
    for (let i = 0; i < repeat; i++) inputs.push(await setup());
    settleYoungGeneration();
    let total = 0;
    for (const input of inputs) total += await timeOne(run, input);
    return [total / repeat];
  }
  const stats = await measure(
    function* () {
      yield {
        [0]: async () => {
          const inputs: T[] = [];
          for (let i = 0; i < repeat; i++) inputs.push(await setup());
          settleYoungGeneration();
          return inputs;
        },
        bench: async (inputs: T[]) => {
          for (const input of inputs) {
            const result = run(input);
            if (result instanceof Promise) await result;
          }
        },
      };
    },
    {
      now: cpuNow,
      min_samples: rounds,
      max_samples: rounds,
      min_cpu_time: 0,
      // A round is never batched: each sample is one whole round.
      batch_threshold: -1,
      warmup_samples: 1,
      inner_gc: false,
    },
  );
  return stats.samples.map((ns) => ns / repeat);
}

/**
 * Bytes of heap that `build` leaves reachable through what it returns, per unit: GC, heap
 * used, build (whose inputs must become garbage), GC, heap used again while the result is
 * still held. The median of `rounds` such measures.
 */
export function retainedBytes(build: () => unknown, units: number, rounds: number): number {
  const round = (): number => {
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    const held = build();
    collectGarbage();
    const bytes = (process.memoryUsage().heapUsed - before) / units;
    keep(held);
    return bytes;
  };
  const results: number[] = [];
  for (let r = 0; r < rounds; r++) results.push(round());
  return median(results);
}

/**
 * Bytes of heap per unit that `attach` adds to what `prepare` built (and is measured apart
 * from), the median of `rounds` measures; `release` then undoes it (settles pending waits, so
 * that no timer is left).
 */
export async function attachedBytes<T, U>(
  prepare: () => T,
  attach: (prepared: T) => U,
  release: (prepared: T, attached: U) => unknown,
  units: number,
  rounds: number,
): Promise<number> {
  // One call per round: a local of a loop body can outlive its iteration in the frame, and the
  // previous round's structures would then still count in the next round's "before".
  const round = async (): Promise<number> => {
    const prepared = prepare();
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    const attached = attach(prepared);
    collectGarbage();
    const bytes = (process.memoryUsage().heapUsed - before) / units;
    await release(prepared, attached);
    return bytes;
  };
  const results: number[] = [];
  for (let r = 0; r < rounds; r++) results.push(await round());
  return median(results);
}

/** Keeps a value reachable until here, so the optimiser cannot drop the work that made it. */
export function keep(value: unknown): void {
  do_not_optimize(value);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Live `setTimeout` timers of the process (Node's active resources). */
export function liveTimers(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
}
