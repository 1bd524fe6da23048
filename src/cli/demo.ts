import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Subscription } from 'rxjs';
import type { ExportLimits } from '../client/backend.js';
import type { ExportTask } from '../client/export-task.js';
import type { FeatureCollection } from '../client/feature-collection.js';
import type { ExportQuery, Feature, Geometry, QueryExpr, QueryValue } from '../client/geojson.js';
import type { ExportTaskSnapshot } from '../core/snapshot.js';
import { parseIntegerFlag } from './integer-flag.js';
import { ProgressView, type ProgressSink, type ProgressState } from './progress-view.js';
import { AREA, createRandom, generateFeature, round5 } from './sample-roads.js';
import { formatTable } from './table.js';

/** What `export-task demo` is asked to do. */
export interface DemoOptions {
  /**
   * How many features to generate.
   * @defaultValue 300000
   */
  readonly features: number;
  /**
   * The seed of the generator: the same seed gives the same features, so the same files.
   * @defaultValue 1
   */
  readonly seed: number;
  /**
   * Plain progress lines even on a terminal.
   * @defaultValue false (live bars on a terminal, plain lines elsewhere or with `NO_COLOR`)
   */
  readonly plain: boolean;
}

/** Where the demo writes, what it reads its settings from, and what stops it. */
export interface DemoIo {
  readonly stdout: ProgressSink;
  readonly stderr: { write(chunk: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborting it (Ctrl-C) stops the demo; it still cleans up. */
  readonly signal?: AbortSignal | undefined;
}

const DEFAULT_FEATURES = 300_000;
const MIN_FEATURES = 10_000;
const MAX_FEATURES = 5_000_000;
/** Features handed to the service per `add()` call. */
const BATCH_SIZE = 50_000;
const PRODUCT_ID = 'demo-roads';
/**
 * Work (feature × boundary-vertex tests) the two deliberately slow exports are sized to. Both
 * select every feature through a boundary polygon whose vertex count is this divided by the
 * feature count, so their cost hardly depends on how many features there are: the one with a
 * 300 ms limit would need far longer than that, and the cancelled one a second or two, so its
 * cancellation at 10% lands long before it could finish. Fewer than {@link MIN_FEATURES}
 * features would not keep them slow enough.
 */
const SLOW_WORK = 2e9;
const CANCEL_WORK = 2e7;

/**
 * `export-task demo`: runs exports of generated roads on the embedded service (successes, a
 * job that throws, one that times out, one cancelled), shows their progress, downloads the
 * files and checks them.
 */
export const demoCommand = {
  name: 'demo',
  summary: 'Run exports on the embedded service with live progress, then download and verify their files',
  description: [
    'Generates road features (Points and LineStrings in the Bay Area) into a product "demo-roads" on the',
    'embedded service, starts several exports at once (different queries; one whose query throws, one that',
    'times out, one cancelled at 10%), shows their progress, prints a table of their outcomes, downloads',
    'every file and checks its features against the query. Everything lives in temporary directories that',
    'are removed at the end. Exits with 0 only when every export ended as expected and every file checked out.',
  ].join('\n'),
  options: {
    features: { type: 'string', valueName: 'n', description: `How many features to generate, ${MIN_FEATURES} or more (default ${DEFAULT_FEATURES})` },
    seed: { type: 'string', valueName: 'n', description: 'Seed of the feature generator (default 1)' },
    plain: { type: 'boolean', description: 'Plain progress lines, no escapes (default on a pipe or with NO_COLOR)' },
  },
  parse(values: Readonly<Record<string, string | boolean | undefined>>): DemoOptions {
    return {
      features: parseIntegerFlag('--features', values['features'], DEFAULT_FEATURES, MIN_FEATURES, MAX_FEATURES),
      seed: parseIntegerFlag('--seed', values['seed'], 1, 0, 2 ** 32 - 1),
      plain: values['plain'] === true,
    };
  },
  run: runDemo,
} as const;

/** What an export should end as. */
type Expectation =
  | { readonly status: 'SUCCESS' }
  | { readonly status: 'FAILURE'; readonly failureType: string; readonly exceptionName?: string };

/** One export the demo runs. */
interface DemoExport {
  readonly label: string;
  /** The query, for people. */
  readonly what: string;
  readonly query: ExportQuery;
  readonly limits?: ExportLimits;
  readonly expect: Expectation;
  /** Cancel the task once its progress passes this fraction. */
  readonly cancelAt?: number;
  /** How each exported feature is checked (successes only). */
  readonly check?: (feature: Feature) => boolean;
  /** Counted over the generated features when the query has no geometry and no limit. */
  readonly countable: boolean;
}

/** How one export ended, and what its file held. */
interface Outcome {
  readonly plan: DemoExport;
  readonly task: ExportTask;
  readonly snapshot: ExportTaskSnapshot;
  readonly asExpected: boolean;
  readonly verification?: Verification;
}

interface Verification {
  readonly ok: boolean;
  readonly lines: number;
  readonly line: string;
}

/**
 * Runs the demo (see {@link demoCommand}).
 *
 * @param options - See {@link DemoOptions}.
 * @param io - Where to write.
 * @returns The exit code: 0 when everything happened as expected, 1 when not, 130 when aborted.
 */
export async function runDemo(options: DemoOptions, io: DemoIo): Promise<number> {
  const started = performance.now();
  const out = (line = ''): void => void io.stdout.write(`${line}\n`);
  const signal = io.signal ?? new AbortController().signal;
  const mode = ProgressView.modeFor(io.stdout, io.env, options.plain);
  // Loaded here, not at the top: `export-task --help` and usage errors need none of it.
  const [{ createClient }, { asCompleted }] = await Promise.all([import('../index.node.js'), import('../client/as-completed.js')]);
  const dataDir = await mkdtemp(join(tmpdir(), 'export-task-demo-'));
  const filesDir = await mkdtemp(join(tmpdir(), 'export-task-demo-files-'));
  const client = createClient({ embedded: { dataDir } });
  const subscriptions: Subscription[] = [];
  let view: ProgressView | undefined;
  /** The downloads and checks, one after the other; never rejects. */
  let verifying: Promise<unknown> = Promise.resolve();
  try {
    const plans = demoExports(options.features);
    out(`export-task demo: ${count(options.features)} generated road features, ${plans.length} exports on the embedded service`);
    out();

    let t = performance.now();
    const roads = await client.createFeatureCollection(PRODUCT_ID, { title: 'Demo roads (generated)' });
    const expectedCounts = await addFeatures(roads, options, plans, signal);
    const addTime = performance.now() - t;
    out(`added ${count(options.features)} features to "${PRODUCT_ID}" in ${seconds(addTime)}`);
    out();
    out(formatTable([{ header: 'export' }, { header: 'query' }, { header: 'expected' }], plans.map((p) => [p.label, p.what, describeExpectation(p.expect)])));
    out();

    t = performance.now();
    const tasks = await Promise.all(
      plans.map((plan) => roads.export(`exports/${plan.label}.ndjson`, { query: plan.query, limits: plan.limits })),
    );
    view = new ProgressView(io.stdout, { mode });
    const cancels: Promise<void>[] = [];
    for (const [i, task] of tasks.entries()) view.add(task.tuid, plans[i]!.label);
    for (const [i, task] of tasks.entries()) {
      const plan = plans[i]!;
      let cancelled = false;
      const progressView = view;
      subscriptions.push(
        task.state$.subscribe((snapshot) => {
          progressView.update(task.tuid, progressState(snapshot));
          if (plan.cancelAt !== undefined && !cancelled && snapshot.phase === 'running' && snapshot.progress >= plan.cancelAt) {
            cancelled = true;
            // Caught at once: a rejection left until the await below would count as unhandled.
            // A cancel that fails shows anyway: the task then ends other than expected.
            cancels.push(
              task.cancel().catch((error: unknown) => {
                io.stderr.write(`export-task demo: could not cancel ${plan.label}: ${error instanceof Error ? error.message : String(error)}\n`);
              }),
            );
          }
        }),
      );
    }
    // Each file is downloaded and checked as soon as its export succeeds, one at a time, while
    // the other exports run: the main thread is mostly idle while the workers scan.
    const verifications = new Map<ExportTask, Promise<Verification>>();
    const planOf = new Map(tasks.map((task, i) => [task, plans[i]!]));
    try {
      // Generous: the exports take seconds; this only keeps a broken service from hanging the demo.
      for await (const task of asCompleted(tasks, { timeout: 600_000, signal })) {
        if (task.snapshot.attributes?.status !== 'SUCCESS') continue;
        const plan = planOf.get(task)!;
        const verification = verifying.then(async (): Promise<Verification> => {
          const path = join(filesDir, `${plan.label}.ndjson`);
          try {
            await task.getFile(path, { signal });
            return await verifyFile(path, plan, expectedCounts.get(plan.label), options.features, signal);
          } catch (error) {
            if (signal.aborted) throw error;
            // A download that does not match what the service reported is a finding, not a crash.
            return { ok: false, lines: 0, line: `FAILED ${plan.label}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}` };
          }
        });
        verifications.set(task, verification);
        // The chain goes on past an interrupted one; that rejection is awaited (and thrown) below.
        verifying = verification.catch(() => undefined);
      }
      await Promise.all(cancels);
    } finally {
      view.close();
    }
    const exportTime = performance.now() - t;
    out();

    t = performance.now();
    const outcomes: Outcome[] = [];
    for (const [i, task] of tasks.entries()) {
      const plan = plans[i]!;
      const snapshot = task.snapshot;
      const asExpected = matchesExpectation(snapshot, plan.expect);
      const verification = await verifications.get(task);
      outcomes.push({ plan, task, snapshot, asExpected, ...(verification === undefined ? {} : { verification }) });
    }
    const verifyTime = performance.now() - t;

    out(outcomeTable(outcomes));
    out();
    for (const outcome of outcomes) if (outcome.verification !== undefined) out(outcome.verification.line);
    out();

    const unexpected = outcomes.filter((o) => !o.asExpected);
    const badFiles = outcomes.filter((o) => o.verification !== undefined && !o.verification.ok);
    const succeeded = outcomes.filter((o) => o.snapshot.attributes?.status === 'SUCCESS').length;
    const elapsed = seconds(performance.now() - started);
    const timing = `adding ${seconds(addTime)}, exports ${seconds(exportTime)}, then download and verify ${seconds(verifyTime)}`;
    if (unexpected.length === 0 && badFiles.length === 0) {
      out(
        `ok: all ${outcomes.length} exports ended as expected (${succeeded} succeeded and their files verified, ` +
          `${outcomes.length - succeeded} failed as intended) in ${elapsed} (${timing})`,
      );
      return 0;
    }
    const problems = [
      ...unexpected.map((o) => `${o.plan.label} ended ${describeOutcome(o.snapshot)}, expected ${describeExpectation(o.plan.expect)}`),
      ...badFiles.map((o) => `${o.plan.label}'s file did not verify`),
    ];
    out(`FAILED: ${problems.join('; ')} (${elapsed})`);
    return 1;
  } catch (error) {
    if (signal.aborted) {
      view?.close();
      io.stderr.write('\nexport-task demo: interrupted; cleaning up\n');
      return 130;
    }
    throw error;
  } finally {
    for (const subscription of subscriptions) subscription.unsubscribe();
    view?.close();
    // When interrupted, a download may still be writing into the directory about to go.
    await verifying;
    // close() stops the jobs still running (when interrupted) before their files are removed.
    await client.close();
    await rm(dataDir, { recursive: true, force: true });
    await rm(filesDir, { recursive: true, force: true });
  }
}

/** The exports the demo runs, with what each should end as. */
function demoExports(features: number): DemoExport[] {
  const highways: QueryExpr = { eq: { kind: 'highway' } };
  const fast: QueryExpr = { range: { speed_kmh: { gte: 80, lt: 100 } } };
  const hills: QueryExpr = { like: { name: '%Hill%' } };
  const residential: QueryExpr = {
    and: [{ eq: { kind: 'residential' } }, { or: [{ eq: { surface: 'concrete' } }, { range: { lanes: { gte: 2 } } }] }],
  };
  const downtown = rectangle(-122.45, 37.74, -122.38, 37.81);
  const limit = 1000;
  const slowVertices = Math.max(64, Math.min(200_000, Math.round(SLOW_WORK / features)));
  const cancelVertices = Math.max(64, Math.min(200_000, Math.round(CANCEL_WORK / features)));
  const exprCheck = (expr: QueryExpr): ((feature: Feature) => boolean) => {
    const matches = compileExpr(expr);
    return (feature) => matches(feature.properties ?? {});
  };
  // Longest first: the service runs a few at a time in this order, so the big files are
  // ready (and checked) while the short exports still run.
  return [
    { label: 'everything', what: 'the whole product', query: {}, expect: { status: 'SUCCESS' }, check: (feature) => feature.type === 'Feature', countable: true },
    {
      label: 'wide-residential',
      what: 'kind = "residential" AND (surface = "concrete" OR lanes >= 2)',
      query: { query_expr: residential },
      expect: { status: 'SUCCESS' },
      check: exprCheck(residential),
      countable: true,
    },
    { label: 'highways', what: 'kind = "highway"', query: { query_expr: highways }, expect: { status: 'SUCCESS' }, check: exprCheck(highways), countable: true },
    { label: 'fast-roads', what: '80 <= speed_kmh < 100', query: { query_expr: fast }, expect: { status: 'SUCCESS' }, check: exprCheck(fast), countable: true },
    { label: 'hills', what: 'name LIKE "%Hill%"', query: { query_expr: hills }, expect: { status: 'SUCCESS' }, check: exprCheck(hills), countable: true },
    {
      label: 'cancelled',
      what: `the whole product through a ${count(cancelVertices)}-vertex boundary, cancelled at 10%`,
      query: { geometry: boundary(cancelVertices) },
      cancelAt: 0.1,
      expect: { status: 'FAILURE', failureType: 'cancelled' },
      countable: false,
    },
    {
      label: 'too-slow',
      what: `the whole product through a ${count(slowVertices)}-vertex boundary, 300 ms limit`,
      query: { geometry: boundary(slowVertices) },
      limits: { timeoutMs: 300 },
      expect: { status: 'FAILURE', failureType: 'timeout' },
      countable: false,
    },
    {
      label: 'bad-range',
      what: 'name >= 100 (a number bound on a string property)',
      query: { query_expr: { range: { name: { gte: 100 } } } },
      expect: { status: 'FAILURE', failureType: 'exception', exceptionName: 'QueryTypeError' },
      countable: false,
    },
    {
      label: 'downtown-sf',
      what: `intersects a box over downtown San Francisco, at most ${limit}`,
      query: { geometry: downtown, query_limit: limit },
      expect: { status: 'SUCCESS' },
      check: (feature) => feature.geometry !== null && boxesMeet(boxOf(feature.geometry), boxOf(downtown)),
      countable: false,
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Generated data

/**
 * Generates the features in batches and adds each batch as it is made (so no more than a
 * batch is held at once), counting on the way how many each countable export should select.
 */
async function addFeatures(
  roads: FeatureCollection,
  options: DemoOptions,
  plans: readonly DemoExport[],
  signal: AbortSignal,
): Promise<Map<string, number>> {
  const random = createRandom(options.seed);
  const counted = plans.filter((plan) => plan.countable && plan.check !== undefined);
  const counts = counted.map(() => 0);
  for (let first = 0; first < options.features; first += BATCH_SIZE) {
    signal.throwIfAborted();
    const batch: Feature[] = [];
    for (let id = first; id < Math.min(options.features, first + BATCH_SIZE); id++) {
      const feature = generateFeature(id, random);
      for (let i = 0; i < counted.length; i++) if (counted[i]!.check!(feature)) counts[i]!++;
      batch.push(feature);
    }
    await roads.add(batch);
  }
  return new Map(counted.map((plan, i) => [plan.label, counts[i]!]));
}

function rectangle(west: number, south: number, east: number, north: number): Geometry {
  return { type: 'Polygon', coordinates: [[[west, south], [east, south], [east, north], [west, north], [west, south]]] };
}

/**
 * A wavy ring around the whole area with `vertices` vertices: every feature lies inside it, so
 * an export through it selects the whole product, at a cost per feature that grows with the
 * vertex count (each point-in-polygon and crossing test walks every edge).
 */
function boundary(vertices: number): Geometry {
  const cx = (AREA[0] + AREA[2]) / 2;
  const cy = (AREA[1] + AREA[3]) / 2;
  const ring: number[][] = [];
  for (let i = 0; i < vertices; i++) {
    const angle = (2 * Math.PI * i) / vertices;
    const radius = 0.8 + 0.05 * Math.sin(angle * 37);
    ring.push([round5(cx + radius * Math.cos(angle)), round5(cy + radius * Math.sin(angle))]);
  }
  ring.push(ring[0]!);
  return { type: 'Polygon', coordinates: [ring] };
}

// ---------------------------------------------------------------------------------------------
// Checking the files

/**
 * The demo's own reading of a `query_expr`, written independently of the service's: each
 * exported feature must satisfy it, and a countable export must hold as many features as the
 * generator counted with it.
 */
function compileExpr(expr: QueryExpr): (properties: Readonly<Record<string, unknown>>) => boolean {
  if ('and' in expr) {
    const parts = expr.and.map(compileExpr);
    return (properties) => parts.every((part) => part(properties));
  }
  if ('or' in expr) {
    const parts = expr.or.map(compileExpr);
    return (properties) => parts.some((part) => part(properties));
  }
  if ('eq' in expr || 'ne' in expr) {
    const negate = 'ne' in expr;
    const pairs = Object.entries<QueryValue>('eq' in expr ? expr.eq : expr.ne);
    return (properties) => pairs.every(([name, v]) => (v !== null && properties[name] == null ? false : equals(properties[name], v) !== negate));
  }
  if ('like' in expr) {
    const patterns = Object.entries(expr.like).map(([name, pattern]) => [name, likeRegExp(pattern)] as const);
    return (properties) =>
      patterns.every(([name, regExp]) => {
        const value = properties[name];
        return typeof value === 'string' && regExp.test(value);
      });
  }
  const ranges = Object.entries(expr.range);
  return (properties) =>
    ranges.every(([name, bounds]) => {
      const value = properties[name];
      if (typeof value !== 'number' && typeof value !== 'string') return false;
      return (
        (bounds.gt === undefined || value > bounds.gt) &&
        (bounds.gte === undefined || value >= bounds.gte) &&
        (bounds.lt === undefined || value < bounds.lt) &&
        (bounds.lte === undefined || value <= bounds.lte)
      );
    });
}

/** SQL LIKE (`%` any run, `_` one character), anchored and case-sensitive. */
function likeRegExp(pattern: string): RegExp {
  const source = [...pattern].map((c) => (c === '%' ? '.*' : c === '_' ? '.' : c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))).join('');
  return new RegExp(`^${source}$`, 'su');
}

function equals(value: unknown, expected: QueryValue): boolean {
  return expected === null ? value == null : value === expected;
}

type Box = [number, number, number, number];

function boxOf(geometry: Geometry): Box {
  const box: Box = [Infinity, Infinity, -Infinity, -Infinity];
  const visit = (node: unknown): void => {
    if (Array.isArray(node) && typeof node[0] === 'number') {
      const [x, y] = node as number[];
      box[0] = Math.min(box[0], x!);
      box[1] = Math.min(box[1], y!);
      box[2] = Math.max(box[2], x!);
      box[3] = Math.max(box[3], y!);
    } else if (Array.isArray(node)) {
      for (const child of node) visit(child);
    }
  };
  if (geometry.type !== 'GeometryCollection') {
    visit(geometry.coordinates);
    return box;
  }
  for (const member of geometry.geometries) {
    const [west, south, east, north] = boxOf(member);
    visit([[west, south], [east, north]]);
  }
  return box;
}

function boxesMeet(a: Box, b: Box): boolean {
  return a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3];
}

/**
 * Reads a downloaded file line by line: each line must be a GeoJSON Feature the export's
 * query selects; the count must be the generator's (countable exports) or at most the
 * `query_limit`.
 */
async function verifyFile(
  path: string,
  plan: DemoExport,
  expected: number | undefined,
  featureCount: number,
  signal: AbortSignal,
): Promise<Verification> {
  let lines = 0;
  let malformed = 0;
  let mismatched = 0;
  // The generator numbers features 0..n-1: a bitmap finds a repeated one at little cost.
  const seen = new Uint8Array(featureCount);
  let duplicates = 0;
  const take = (text: string): void => {
    if (text === '') return;
    lines++;
    let feature: Feature;
    try {
      feature = JSON.parse(text) as Feature;
    } catch {
      malformed++;
      return;
    }
    if (typeof feature !== 'object' || feature === null || feature.type !== 'Feature' || !('geometry' in feature) || !('properties' in feature)) {
      malformed++;
      return;
    }
    const id = feature.id;
    if (typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < featureCount) {
      if (seen[id] === 1) duplicates++;
      seen[id] = 1;
    } else {
      malformed++;
    }
    if (plan.check !== undefined && !plan.check(feature)) mismatched++;
  };
  let rest = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20, signal }) as AsyncIterable<string>) {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop()!;
    for (const part of parts) take(part);
  }
  take(rest);
  const limit = plan.query.query_limit;
  const problems: string[] = [];
  if (malformed > 0) problems.push(`${count(malformed)} lines are not GeoJSON Features with a generated id`);
  if (mismatched > 0) problems.push(`${count(mismatched)} features do not match the query`);
  if (duplicates > 0) problems.push(`${count(duplicates)} duplicate ids`);
  if (expected !== undefined && lines !== expected) problems.push(`expected ${count(expected)} features`);
  if (limit !== undefined && lines > limit) problems.push(`more than the query_limit of ${count(limit)}`);
  if (lines === 0) problems.push('the file is empty');
  const wholeProduct = plan.query.query_expr === undefined && plan.query.geometry === undefined;
  const checked = wholeProduct
    ? 'each generated feature exactly once'
    : expected !== undefined
      ? `all match ${plan.what}, as many as generated (${count(expected)})`
      : limit !== undefined
        ? `all within the box, at most ${count(limit)}`
        : `all match ${plan.what}`;
  const ok = problems.length === 0;
  const line = ok
    ? `verified ${plan.label}: ${count(lines)} features, ${checked}`
    : `FAILED ${plan.label}: ${count(lines)} features; ${problems.join('; ')}`;
  return { ok, lines, line };
}

// ---------------------------------------------------------------------------------------------
// Showing outcomes

function progressState(snapshot: ExportTaskSnapshot): ProgressState {
  const a = snapshot.attributes;
  if (a === null) {
    return { phase: snapshot.phase, progress: snapshot.progress, message: snapshot.cancelRequested ? 'cancel requested' : snapshot.message };
  }
  if (a.status === 'SUCCESS') return { phase: 'success', progress: 1, message: `${size(a.sizeBytes)} written` };
  return { phase: 'failure', progress: snapshot.progress, message: [a.failureType, a.exceptionName].filter((x) => x !== null).join(': ') };
}

function matchesExpectation(snapshot: ExportTaskSnapshot, expect: Expectation): boolean {
  const a = snapshot.attributes;
  if (a === null || a.status !== expect.status) return false;
  if (expect.status === 'SUCCESS') return true;
  return a.failureType === expect.failureType && (expect.exceptionName === undefined || a.exceptionName === expect.exceptionName);
}

function describeExpectation(expect: Expectation): string {
  if (expect.status === 'SUCCESS') return 'success';
  return `failure (${expect.failureType}${expect.exceptionName === undefined ? '' : `: ${expect.exceptionName}`})`;
}

function describeOutcome(snapshot: ExportTaskSnapshot): string {
  const a = snapshot.attributes;
  if (a === null) return snapshot.phase;
  if (a.status === 'SUCCESS') return 'success';
  return `failure (${a.failureType ?? 'unknown'}${a.exceptionName === null ? '' : `: ${a.exceptionName}`})`;
}

function outcomeTable(outcomes: readonly Outcome[]): string {
  const dash = '-';
  return formatTable(
    [
      { header: 'export' },
      { header: 'status' },
      { header: 'failure' },
      { header: 'exception' },
      { header: 'cpu s', align: 'right' },
      { header: 'peak MiB', align: 'right' },
      { header: 'features', align: 'right' },
      { header: 'size', align: 'right' },
      { header: 'as expected' },
    ],
    outcomes.map(({ plan, snapshot, asExpected, verification }) => {
      const a = snapshot.attributes;
      return [
        plan.label,
        a?.status ?? snapshot.phase,
        a?.failureType ?? dash,
        a?.exceptionName ?? dash,
        a?.runtime == null ? dash : a.runtime.toFixed(2),
        a?.peakMemoryUsage == null ? dash : (a.peakMemoryUsage / 2 ** 20).toFixed(1),
        verification === undefined ? dash : count(verification.lines),
        a?.sizeBytes == null ? dash : size(a.sizeBytes),
        asExpected ? 'yes' : 'NO',
      ];
    }),
  );
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function size(bytes: number | null): string {
  if (bytes === null) return '-';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 2 ** 20) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
