/**
 * `npm run bench`: every performance goal of the library as a ratio against a baseline run in
 * the same process, for 1,000, 10,000 and 100,000 tasks (`--quick`: 1,000 and 10,000), and the
 * same for what users would pick instead. Prints the tables, writes `bench/results/latest.json`
 * and draws `bench/results/chart.svg`.
 *
 * Order matters: the goals first, then the alternatives (whose hundreds of megabytes of actors
 * would otherwise be collected during the next measures), then the heap measures (which force
 * full GCs, after which timings are not representative).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { actorPerTask, applyCase } from './cases/apply.js';
import { heapCase } from './cases/heap.js';
import { listExportsCase } from './cases/list-exports.js';
import { waitForPerTask, waitsCase, type TimerCheck } from './cases/waits.js';
import { filterPerSubscriber, watchCase } from './cases/watch.js';
import { chartSvg, panelsOf } from './chart.js';
import { checkGcExposed, cpuNow } from './harness.js';
import { createPlan, warmUpPlan, type Plan } from './plan.js';
import { table, type Row } from './report.js';
import { verifyBaselines } from './verify.js';

const CASES = ['apply', 'waits', 'watch', 'list'] as const;
type CaseName = (typeof CASES)[number];
const USAGE = `usage: npm run bench [-- [--quick] [--only=${CASES.join(',')}] [--no-alternatives] [--no-write]]`;
const args = process.argv.slice(2);
const onlyArg = args.find((a) => a.startsWith('--only='));
const only = new Set(onlyArg === undefined ? CASES : onlyArg.slice('--only='.length).split(','));
const flags = ['--quick', '--no-write', '--no-alternatives'];
if (args.some((a) => a !== onlyArg && !flags.includes(a)) || [...only].some((c) => !(CASES as readonly string[]).includes(c))) {
  console.error(USAGE);
  process.exit(2);
}
const quick = args.includes('--quick');
const alternativesToo = !args.includes('--no-alternatives');
// A partial run never overwrites the results of a full one.
const write = !args.includes('--no-write') && onlyArg === undefined && alternativesToo;
const has = (name: CaseName): boolean => only.has(name);

const started = performance.now();
const cpuStarted = cpuNow();
const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(0)}s`;
const plan = createPlan(quick, (message) => console.error(`[${elapsed()}] ${message}`));

checkGcExposed();
await verifyBaselines(1000);
plan.log('baselines verified: they compute the same snapshots as the library');

interface Results {
  rows: Row[];
  alternatives: Row[];
  timers: TimerCheck[];
  notes: string[];
}

async function runAll(p: Plan): Promise<Results> {
  const rows: Row[] = [];
  const alternatives: Row[] = [];
  const timers: TimerCheck[] = [];
  const notes: string[] = [];
  if (has('apply')) rows.push(...(await applyCase(p)));
  const waits = has('waits') ? await waitsCase(p) : undefined;
  if (waits !== undefined) {
    rows.push(...waits.rows);
    timers.push(...waits.timers);
  }
  const watch = has('watch') ? await watchCase(p) : undefined;
  if (watch !== undefined) rows.push(...watch.rows);
  if (has('list')) rows.push(...(await listExportsCase(p)).rows);
  if (alternativesToo) {
    if (has('apply')) alternatives.push(...(await actorPerTask(p)));
    if (waits !== undefined) {
      const waitFor = await waitForPerTask(p, waits.bareWait);
      alternatives.push(...waitFor.rows);
      timers.push(...waitFor.timers);
    }
    if (watch !== undefined) {
      const filter = await filterPerSubscriber(p, watch.bare);
      alternatives.push(...filter.rows);
      notes.push(...filter.notes);
    }
  }
  if (has('apply') || has('waits')) {
    const heap = await heapCase(p, alternativesToo);
    rows.push(...heap.rows);
    alternatives.push(...heap.alternatives);
  }
  return { rows, alternatives, timers, notes };
}

// A short pass at the smallest size first, dropped: the JIT settles before anything counts.
await runAll(warmUpPlan());
plan.log('warmed up');
const results = await runAll(plan);

const byGoal = (a: Row, b: Row): number => a.goal.localeCompare(b.goal) || a.n - b.n;
const rows = results.rows.sort(byGoal);
const alternatives = results.alternatives.sort(byGoal);
const seconds = (performance.now() - started) / 1000;
const cpuSeconds = (cpuNow() - cpuStarted) / 1e9;

console.log('\nGoals (median of the rounds; ratio = ours / baseline, lower is better)\n');
console.log(table(rows, false));
if (alternatives.length > 0) {
  console.log('\nWhat users would pick instead, against the same baselines\n');
  console.log(table(alternatives, true));
}
console.log('\nTimers while N waits are attached');
for (const t of results.timers) {
  console.log(`  ${t.subject}, N=${t.n}: +${t.timersWhileWaiting} live timers while waiting, +${t.timersAfter} after (${t.note})`);
}
console.log('\nNotes');
for (const r of [...rows, ...alternatives]) if (r.note !== undefined) console.log(`  ${r.goal}, ${r.subject}, N=${r.n}: ${r.note}`);
const failed = rows.filter((r) => r.pass === false);
console.log(
  `\n${rows.filter((r) => r.pass === true).length} goal rows pass, ${failed.length} fail; ${seconds.toFixed(0)} s in all (${cpuSeconds.toFixed(0)} s of CPU)${quick ? ', --quick' : ''}`,
);

if (write) {
  const here = dirname(fileURLToPath(import.meta.url));
  const out = join(here, 'results');
  mkdirSync(out, { recursive: true });
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${process.arch}`,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    quick,
    seconds: Math.round(seconds),
    cpuSeconds: Math.round(cpuSeconds),
    clock: 'process CPU time (user + system), median of the rounds',
  };
  writeFileSync(join(out, 'latest.json'), `${JSON.stringify({ meta, rows, alternatives, timers: results.timers, notes: results.notes }, null, 2)}\n`);
  const caption = `export-task benchmarks, ${meta.date.slice(0, 10)}, Node ${meta.node}, ${meta.cores} x ${meta.cpu}; CPU time, median of several rounds; log-log axes`;
  writeFileSync(join(out, 'chart.svg'), chartSvg(panelsOf(rows, alternatives), caption));
  console.log('wrote bench/results/latest.json and bench/results/chart.svg');
}
