/**
 * `npm run bench:soak`: a bounded soak of the service and of a long-lived client, each in a
 * process of its own, loopback only.
 *
 * For each mode (SQLite, then Redis with one worker in the service's process, on a
 * `redis-server` started on 127.0.0.1) it forks the service (bench/soak/service.ts) and the
 * long-lived client (bench/soak/client.ts), both with `--expose-gc`. The client follows a
 * handful of exports of its own (`--follow`, 3 at a time, one after another) of a busy product,
 * while this process runs `--lanes` (6) lanes of exports on the same product, each lane through
 * a short-lived client replaced every `--client-exports` (20) exports; one export in six is
 * cancelled at a random moment and one in six has a 1 ms time limit. Every `--interval` seconds
 * (2) each child collects garbage twice and reports its heap, RSS, descriptors, threads, handles
 * and CPU (the client also its store's size). Each metric gets a line per 1,000 exports (the
 * service's against every export it ran, the client's against the exports it does not follow)
 * fitted by least squares over the samples after `--warmup` seconds (a fifth of each mode by
 * default: the JIT's warm-up), and again over their later half, with r² and a 95%
 * interval widened for autocorrelated samples (bench/soak/fit.ts), and a verdict against a
 * stated bound: `flat` when the whole interval is under it.
 *
 * `--minutes` (2) is the whole run, split between the modes; `--sqlite-only` / `--redis-only`;
 * `--heap-snapshots` writes a heap snapshot of each child at the end of the warm-up, at three
 * fifths and at the end (in the OS's temporary directory), to diff with bench/soak/diff-heap.ts. Results go to
 * `bench/results/soak.json`. The machine may be shared: the load average is printed with the
 * results, and the verdicts rest on the GC'd heap and counts, not on time.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createClient, type ExportClient, type Feature } from '../src/index.node.js';
import { startRedisServer } from '../test/support/redis-server.js';
import { fitLine, verdict, type Fit, type Verdict } from './soak/fit.js';
import type { ProbeRequest, ProcessSample } from './soak/probe.js';

/** A probe without its id (the child's answer is matched to it by id). */
type ProbeRequestBody = ProbeRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

const HERE = dirname(fileURLToPath(import.meta.url));

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at === -1) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!(value > 0)) {
    console.error(`Expected --${name} to be a positive number, got ${JSON.stringify(process.argv[at + 1])}`);
    process.exit(2);
  }
  return value;
}
const MINUTES = flag('minutes', 2);
const LANES = Math.round(flag('lanes', 6));
const FOLLOW = Math.round(flag('follow', 3));
const CLIENT_EXPORTS = Math.round(flag('client-exports', 20));
const INTERVAL_S = flag('interval', 2);
const SNAPSHOTS = process.argv.includes('--heap-snapshots');
const MODES = process.argv.includes('--sqlite-only') ? ['sqlite'] : process.argv.includes('--redis-only') ? ['redis'] : ['sqlite', 'redis'];
const SECONDS = (MINUTES * 60) / MODES.length;
/** Seconds of each mode left out of the fits: the JIT's warm-up (compiled code, and the feedback and hidden classes it keeps). */
const WARMUP_S = flag('warmup', SECONDS / 5);
if (WARMUP_S >= SECONDS * 0.8) {
  console.error(`Expected --warmup to leave at least a fifth of each mode's ${SECONDS} s to fit, got ${WARMUP_S}`);
  process.exit(2);
}

/** The samples fitted: those taken after the warm-up. */
const fitted = (points: readonly Point[]): Point[] => points.filter((p) => p.at >= WARMUP_S);
const PRODUCT = 'busy';

/**
 * The growth per 1,000 exports under which a metric is called flat. For the heap, 0.1 MB per
 * 1,000 exports is about 100 bytes an export: a tenth of what keeping each export's snapshot
 * cost the client before (1.5 MB per 1,000, issue 23). For counts, one leaked per 2,000 exports.
 */
const BOUNDS: Record<string, number> = { heapMb: 0.1, dataMb: 0.1, fds: 0.5, threads: 0.5, handles: 0.5, storeSize: 0.5 };
/** Reported, not judged: they follow the allocator and when V8 hands pages back, not what is reachable. */
const REPORTED = ['codeMb', 'rssMb', 'externalMb'];

const features: Feature[] = Array.from({ length: 200 }, (_, i) => ({ type: 'Feature', id: i, geometry: { type: 'Point', coordinates: [i % 180, i % 90] }, properties: { i } }));

/** A forked child of the soak, asked for samples over its IPC channel. */
class Child {
  readonly #process: ChildProcess;
  readonly #waiting = new Map<number, { resolve: (value: Record<string, unknown>) => void; reject: (error: Error) => void }>();
  #next = 0;
  #exited: Error | undefined;
  readonly first: Promise<Record<string, unknown>>;

  constructor(
    readonly name: string,
    script: string,
    args: string[],
  ) {
    this.#process = fork(join(HERE, 'soak', script), args, { execArgv: ['--expose-gc', '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.first = new Promise((resolve, reject) => {
      this.#process.once('message', (message: Record<string, unknown>) => resolve(message));
      this.#process.once('exit', (code, signal) => reject(new Error(`The soak's ${name} exited before it was ready (code ${code}, signal ${signal})`)));
    });
    this.#process.on('message', (message: { id?: number; error?: string }) => {
      if (message.id === undefined) return;
      const waiter = this.#waiting.get(message.id);
      this.#waiting.delete(message.id);
      if (message.error !== undefined) waiter?.reject(new Error(`The soak's ${name}: ${message.error}`));
      else waiter?.resolve(message);
    });
    this.#process.once('exit', (code, signal) => {
      this.#exited = new Error(`The soak's ${name} exited (code ${code}, signal ${signal})`);
      for (const waiter of this.#waiting.values()) waiter.reject(this.#exited);
      this.#waiting.clear();
    });
  }

  /** Sends a probe and waits for its answer, at most `timeoutMs`. */
  async ask(request: ProbeRequestBody, timeoutMs = 120_000): Promise<Record<string, unknown>> {
    if (this.#exited !== undefined) throw this.#exited;
    const id = this.#next++;
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => this.#waiting.set(id, { resolve, reject }));
    this.#process.send({ ...request, id });
    const timer = setTimeout(() => this.#waiting.get(id)?.reject(new Error(`The soak's ${this.name} did not answer ${request.type} within ${timeoutMs} ms`)), timeoutMs);
    try {
      return await answer;
    } finally {
      clearTimeout(timer);
      this.#waiting.delete(id);
    }
  }

  async sample(): Promise<ProcessSample> {
    return (await this.ask({ type: 'sample' })).sample as ProcessSample;
  }

  /** Asks it to stop and waits for it to exit (killed if it does not within 30 s). */
  async stop(): Promise<Record<string, number>> {
    const exited = new Promise<void>((resolve) => (this.#process.exitCode !== null || this.#process.signalCode !== null ? resolve() : this.#process.once('exit', () => resolve())));
    try {
      return ((await this.ask({ type: 'stop' }, 30_000)).summary ?? {}) as Record<string, number>;
    } finally {
      const timer = setTimeout(() => this.#process.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (this.#process.exitCode === null && this.#process.signalCode === null) this.#process.kill('SIGKILL');
  }
}

interface Point {
  /** Seconds since the mode started. */
  readonly at: number;
  /** Exports the service ran to their end: the load's and the long-lived client's. */
  readonly exports: number;
  /** Exports the long-lived client does not follow (the load's), ended. */
  readonly unfollowed: number;
  readonly service: ProcessSample;
  readonly client: ProcessSample;
}

interface Line extends Fit {
  /** The same fit over the later half of the samples fitted: a warm-up still going shows as a smaller slope here. */
  readonly late: Fit;
  readonly bound: number | undefined;
  readonly verdict: Verdict | 'reported';
}

interface ModeResult {
  readonly mode: string;
  readonly seconds: number;
  readonly exports: number;
  readonly unfollowed: number;
  readonly loadFailed: number;
  readonly shortLivedClients: number;
  readonly client: Record<string, number>;
  readonly load: { readonly start: readonly number[]; readonly end: readonly number[] };
  readonly snapshots: string[];
  /** Before the load started and after it ended (nothing in flight): not fitted. */
  readonly rest: { readonly before: Point; readonly after: Point };
  /** The service once every client is closed and nothing is in flight. */
  readonly idle: ProcessSample;
  readonly points: Point[];
  readonly lines: { readonly service: Record<string, Line>; readonly client: Record<string, Line> };
}

function lines(points: readonly Point[], side: 'service' | 'client'): Record<string, Line> {
  const steady = fitted(points);
  const late = steady.slice(Math.floor(steady.length / 2));
  const metrics = Object.keys(steady[0]![side]).filter((m) => m in BOUNDS || REPORTED.includes(m));
  return Object.fromEntries(
    metrics.map((m) => {
      const against = (over: readonly Point[]): Fit => fitLine(over.map((p) => [(side === 'service' ? p.exports : p.unfollowed) / 1000, p[side][m]!] as const));
      const line = against(steady);
      const bound = BOUNDS[m];
      return [m, { ...line, late: against(late), bound, verdict: bound === undefined ? 'reported' : verdict(line, bound) }];
    }),
  );
}

async function soak(mode: string): Promise<ModeResult> {
  const dataDir = await mkdtemp(join(tmpdir(), `export-task-soak-${mode}-`));
  const redis = mode === 'redis' ? await startRedisServer() : undefined;
  const children: Child[] = [];
  const load = { start: loadavg(), end: [] as number[] };
  const points: Point[] = [];
  const snapshots: string[] = [];
  let exportsDone = 0;
  let loadFailed = 0;
  let shortLived = 0;
  let clientSummary: Record<string, number> = {};
  let restBefore: Point | undefined;
  let restAfter: Point | undefined;
  let idle: ProcessSample | undefined;
  try {
    const service = new Child('service', 'service.ts', redis === undefined ? ['sqlite', dataDir] : ['redis', dataDir, redis.url]);
    children.push(service);
    const { url } = (await service.first) as { url: string };
    const setup = createClient({ url });
    const busy = await setup.createFeatureCollection(PRODUCT);
    await busy.add(features);
    await setup.close();
    const client = new Child('client', 'client.ts', [url, PRODUCT, String(FOLLOW)]);
    children.push(client);
    await client.first;

    let started = Date.now();
    const take = async (): Promise<Point> => {
      const [serviceSample, clientSample] = await Promise.all([service.sample(), client.sample()]);
      const followed = clientSample['followed'] ?? 0;
      return { at: (Date.now() - started) / 1000, exports: exportsDone + followed, unfollowed: exportsDone, service: serviceSample, client: clientSample };
    };
    restBefore = await take();
    started = Date.now();
    const end = started + SECONDS * 1000;
    let running = true;
    const lane = async (lane: number): Promise<void> => {
      let current: ExportClient | undefined;
      for (let n = 0; running; n++) {
        if (n % CLIENT_EXPORTS === 0) {
          await current?.close();
          current = createClient({ url });
          shortLived++;
        }
        const kind = (lane + n) % 6;
        try {
          const task = await current!.featureCollection(PRODUCT).export(`soak/load/${lane}/${n}.ndjson`, kind === 1 ? { limits: { timeoutMs: 1 } } : {});
          if (kind === 2) setTimeout(() => void task.cancel().catch(() => undefined), Math.random() * 200).unref();
          // A time limit or a cancel ends it in failure: getResult resolves then too, the end was reached.
          await task.getResult({ wait: true, timeout: 60_000 });
        } catch {
          loadFailed++;
        }
        exportsDone++;
      }
      await current?.close();
    };
    const lanes = Array.from({ length: LANES }, (_, i) => lane(i));

    const snapshot = async (label: string): Promise<void> => {
      for (const child of [service, client]) {
        const path = join(tmpdir(), `export-task-soak-${mode}-${child.name}-${label}-${process.pid}.heapsnapshot`);
        snapshots.push((await child.ask({ type: 'snapshot', path })).path as string);
      }
    };
    // At the end of the warm-up and at three fifths: diff-heap.ts with these and the last counts what was born between the first two and is still kept.
    const marks = SNAPSHOTS ? [{ at: WARMUP_S, label: 'warm' }, { at: WARMUP_S + (SECONDS - WARMUP_S) / 2, label: 'mid' }] : [];
    while (Date.now() < end) {
      await sleep(INTERVAL_S * 1000);
      points.push(await take());
      if (marks[0] !== undefined && Date.now() - started >= marks[0].at * 1000) await snapshot(marks.shift()!.label);
    }
    if (SNAPSHOTS) await snapshot('end');
    running = false;
    await Promise.all(lanes);
    load.end = loadavg();
    restAfter = await take();
    clientSummary = await client.stop();
    // With the long-lived client gone too, nothing is in flight: the service is back where it started, or something stayed.
    idle = await service.sample();
    await service.stop();
  } finally {
    for (const child of children) child.kill();
    await redis?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
  const last = points.at(-1)!;
  return {
    mode,
    seconds: SECONDS,
    exports: last.exports,
    unfollowed: last.unfollowed,
    loadFailed,
    shortLivedClients: shortLived,
    client: clientSummary,
    load,
    snapshots,
    rest: { before: restBefore, after: restAfter },
    idle: idle,
    points,
    lines: { service: lines(points, 'service'), client: lines(points, 'client') },
  };
}

const fixed = (value: number, digits: number): string => (Number.isFinite(value) ? value.toFixed(digits) : String(value));

function print(result: ModeResult): void {
  const steady = fitted(result.points);
  const first = steady[0]!;
  const last = steady.at(-1)!;
  const { before, after } = result.rest;
  console.log(
    `\n${result.mode}: ${result.exports} exports in ${fixed(result.seconds, 0)} s, ${result.unfollowed} of them by ${result.shortLivedClients} short-lived clients ` +
      `(${result.loadFailed} waits failed); the long-lived client followed ${result.client['followed']} (${result.client['failed']} failed, ${result.client['collected']} dropped tasks collected); ` +
      `load average ${result.load.start.map((l) => l.toFixed(1)).join(' ')} -> ${result.load.end.map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cores`,
  );
  console.log(`${result.points.length} samples under load, ${steady.length} fitted (after the warm-up, from export ${first.exports} on)`);
  for (const side of ['service', 'client'] as const) {
    console.log(`\n  ${side} (slope per 1,000 ${side === 'service' ? 'exports it ran' : 'exports it does not follow'}; at rest: before the load and after it)`);
    console.log('  metric      at rest  fitted: first     last  at rest      slope   95% interval           r²     noise  bound  verdict    later half: slope, 95% interval');
    for (const [metric, line] of Object.entries(result.lines[side])) {
      const value = (point: Point): string => fixed(point[side][metric]!, 1);
      console.log(
        `  ${metric.padEnd(11)} ${value(before).padStart(7)} ${value(first).padStart(13)} ${value(last).padStart(8)} ${value(after).padStart(8)} ${fixed(line.slope, 3).padStart(10)}   ` +
          `[${fixed(line.low, 3)}, ${fixed(line.high, 3)}]`.padEnd(22) +
          ` ${fixed(line.r2, 2).padStart(5)} ${fixed(line.noise, 3).padStart(9)} ${String(line.bound ?? '').padStart(6)}  ${line.verdict.padEnd(9)}  ` +
          `${fixed(line.late.slope, 3)} [${fixed(line.late.low, 3)}, ${fixed(line.late.high, 3)}]`,
      );
    }
  }
  const idle = (metric: string): string => `${fixed(before.service[metric]!, 1)} -> ${fixed(result.idle[metric]!, 1)}`;
  console.log(`\n  service idle (every client closed), against before the load: descriptors ${idle('fds')}, threads ${idle('threads')}, handles ${idle('handles')}, connections ${idle('connections')} (event streams ${idle('streams')}), heap ${idle('heapMb')} MB (code ${idle('codeMb')})`);
  if (result.snapshots.length > 0) console.log(`\n  heap snapshots (diff with bench/soak/diff-heap.ts): ${result.snapshots.join(' ')}`);
}

const results: ModeResult[] = [];
for (const mode of MODES) {
  const result = await soak(mode);
  results.push(result);
  print(result);
}
const out = join(HERE, 'results', 'soak.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ minutes: MINUTES, lanes: LANES, follow: FOLLOW, clientExports: CLIENT_EXPORTS, interval: INTERVAL_S, warmup: WARMUP_S, bounds: BOUNDS, results }, null, 2)}\n`);
console.log(`\nwritten to bench/results/soak.json`);
