/**
 * `npm run bench`: every performance goal of the library as a ratio against a baseline run in
 * the same process, for 1,000, 10,000 and 100,000 tasks (`--quick`: 1,000 and 10,000), and the
 * same for what users would pick instead. Prints the tables, writes `bench/results/latest.json`
 * and draws `bench/results/chart.svg`.
 *
 * Each goal runs in a child process of its own (`--part=<goal>`), its alternatives after it
 * (their hundreds of megabytes of actors would otherwise be collected during its measures), and
 * the heap measures last, in another (they force full GCs, after which timings are not
 * representative). The parent verifies the baselines, gathers the rows and writes them.
 */
import { spawn } from 'node:child_process';
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
/** What one child process measures: a goal with its alternatives, or the heap measures. */
type Part = CaseName | 'heap';
const PARTS: readonly Part[] = [...CASES, 'heap'];
const USAGE = `usage: npm run bench [-- [--quick] [--only=${CASES.join(',')}] [--no-alternatives] [--no-write]]\n       (one goal alone, its rows as JSON: [--part=${PARTS.join('|')}])`;
const args = process.argv.slice(2);
const partArg = args.find((a) => a.startsWith('--part='));
const onlyArg = args.find((a) => a.startsWith('--only='));
const only = new Set(onlyArg === undefined ? CASES : onlyArg.slice('--only='.length).split(','));
const flags = ['--quick', '--no-write', '--no-alternatives'];
if (
  args.some((a) => a !== onlyArg && a !== partArg && !flags.includes(a)) ||
  [...only].some((c) => !(CASES as readonly string[]).includes(c)) ||
  (partArg !== undefined && !(PARTS as readonly string[]).includes(partArg.slice('--part='.length)))
) {
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

interface Results {
  rows: Row[];
  alternatives: Row[];
  timers: TimerCheck[];
  notes: string[];
  /** CPU time of the process that measured them, in s. */
  cpuSeconds: number;
}

/** One goal and its alternatives (after the goal), or the heap measures, in this process. */
async function runPart(part: Part, p: Plan): Promise<Results> {
  const results: Results = { rows: [], alternatives: [], timers: [], notes: [], cpuSeconds: 0 };
  if (part === 'apply') {
    results.rows.push(...(await applyCase(p)));
    if (alternativesToo) results.alternatives.push(...(await actorPerTask(p)));
  } else if (part === 'waits') {
    const waits = await waitsCase(p);
    results.rows.push(...waits.rows);
    results.timers.push(...waits.timers);
    if (alternativesToo) {
      const waitFor = await waitForPerTask(p, waits.bareWait);
      results.alternatives.push(...waitFor.rows);
      results.timers.push(...waitFor.timers);
    }
  } else if (part === 'watch') {
    const watch = await watchCase(p);
    results.rows.push(...watch.rows);
    if (alternativesToo) {
      const filter = await filterPerSubscriber(p, watch.bare);
      results.alternatives.push(...filter.rows);
      results.notes.push(...filter.notes);
    }
  } else if (part === 'list') {
    results.rows.push(...(await listExportsCase(p)).rows);
  } else {
    const heap = await heapCase(p, alternativesToo);
    results.rows.push(...heap.rows);
    results.alternatives.push(...heap.alternatives);
  }
  return results;
}

if (partArg !== undefined) {
  // A child: one part, after a short pass of it at the smallest size (dropped) so that the JIT
  // settles before anything counts. Progress goes to stderr, the results as JSON to stdout.
  const part = partArg.slice('--part='.length) as Part;
  checkGcExposed();
  await runPart(part, warmUpPlan());
  const results = await runPart(part, createPlan(quick, (message) => console.error(`[${elapsed()}] ${message}`)));
  process.stdout.write(JSON.stringify({ ...results, cpuSeconds: (cpuNow() - cpuStarted) / 1e9 }));
  process.exit(0);
}

/**
 * Each part runs in a process of its own, so that no part is timed while the garbage of the one
 * before is being collected: after goal 3 at 100,000 tasks, the next part's rounds carried the
 * collection of hundreds of megabytes of stores and subscriptions (listExports at 1,000 tasks
 * measured 7 us per task there, 1.5 us in a process of its own).
 */
function runChild(part: Part): Promise<Results> {
  const childArgs = [...process.execArgv, fileURLToPath(import.meta.url), `--part=${part}`, ...(quick ? ['--quick'] : []), ...(alternativesToo ? [] : ['--no-alternatives'])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, childArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`the ${part} part of the bench exited with ${String(code)}`));
      else resolve(JSON.parse(out) as Results);
    });
  });
}

checkGcExposed();
await verifyBaselines(1000);
console.error(`[${elapsed()}] baselines verified: they compute the same snapshots as the library`);
const parts: Part[] = [...CASES.filter(has), ...(has('apply') || has('waits') ? (['heap'] as const) : [])];
const results: Results = { rows: [], alternatives: [], timers: [], notes: [], cpuSeconds: 0 };
for (const part of parts) {
  const r = await runChild(part);
  results.rows.push(...r.rows);
  results.alternatives.push(...r.alternatives);
  results.timers.push(...r.timers);
  results.notes.push(...r.notes);
  results.cpuSeconds += r.cpuSeconds;
}

const byGoal = (a: Row, b: Row): number => a.goal.localeCompare(b.goal) || a.n - b.n;
const rows = results.rows.sort(byGoal);
const alternatives = results.alternatives.sort(byGoal);
const seconds = (performance.now() - started) / 1000;
const cpuSeconds = (cpuNow() - cpuStarted) / 1e9 + results.cpuSeconds;

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
