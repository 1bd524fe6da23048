/**
 * The capacity model of `docs/capacity.md`, computed from the unit costs that `npm run
 * bench:capacity` measured (`bench/results/capacity.json`), and the tables of that document
 * generated from them, between its `<!-- capacity:... -->` markers.
 *
 * `node --import tsx bench/capacity-report.ts` (or `npm run bench:capacity -- --report`) rewrites
 * the tables from the results file; `test/docs/capacity.test.ts` checks that the committed
 * document is what the committed results give, so that the two never drift.
 * @packageDocumentation
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One measured unit cost. */
export interface Unit {
  readonly value: number;
  readonly unit: string;
  readonly method: string;
  /** The bench part that measured it. */
  readonly part?: string;
}

/** What `bench/results/capacity.json` holds. */
export interface CapacityResults {
  machine: { readonly node: string; readonly cpus: number; readonly cpuModel: string; readonly loadAverage: { readonly start: number[]; readonly end: number[] }; readonly openFilesLimit: number; readonly redis: string };
  units: Record<string, Unit>;
  parts: Record<string, { readonly detail: unknown; readonly seconds: number; readonly loadAverageAtStart: number; readonly quick: boolean; readonly at: string }>;
}

/** The assumptions the model adds to the measured costs (stated in docs/capacity.md). */
export const ASSUMPTIONS = {
  /** Peak hour's rate over the day's average. */
  peakToAverage: 3,
  /** Every resource is planned to this share of what it can do, at the peak. */
  utilisation: 0.6,
  /** Watchers follow product streams; they and the exports are spread evenly over this many products, so an event goes to watchers / products of them. */
  products: 100,
  /** The service's default heartbeat interval, s. */
  heartbeatSeconds: 15,
  /** Bytes of a heartbeat comment on the wire (`: heartbeat\n\n`). */
  heartbeatBytes: 13,
  /** Each finished export's file is downloaded once. */
  downloadsPerExport: 1,
  /** retentionMs and outcomeRetentionMs at their defaults, days. */
  retentionDays: 1,
  outcomeRetentionDays: 30,
  /** An API instance: one core for its event loop, this much memory for connections, at most this many connections (the open files limit, raised). */
  apiCores: 1,
  apiMemoryBytes: 2 * 2 ** 30,
  apiConnections: 20_000,
  /** At least this many API instances, for availability. */
  minApiInstances: 2,
  /** A Redis shard: one core (Redis runs commands on one thread), this much maxmemory. */
  redisShardMemoryBytes: 16 * 2 ** 30,
  /** One network link out, bytes per second (1 Gbit/s). */
  linkBytesPerSecond: 125e6,
} as const;

export type Assumptions = { readonly [K in keyof typeof ASSUMPTIONS]: number };

/** The unit costs the model reads. */
export const MODEL_UNITS = [
  'appendCpuUs',
  'deliveryCpuUs',
  'heartbeatCpuUs',
  'sseConnectionHeapBytes',
  'workerExportsPerCoreSecond',
  'eventsPerExport',
  'typicalFrameBytes',
  'exportFileBytes',
  'redisBytesPerExportInWindow',
  'redisBytesPerFinishedExport',
  'redisCpuUsPerExport',
  'sqliteEventsPerCoreSecond',
] as const;

export type ModelUnits = Record<(typeof MODEL_UNITS)[number], number>;

/** What a load needs. */
export interface Sizing {
  readonly exportsPerDay: number;
  readonly watchers: number;
  readonly peakExportsPerSecond: number;
  readonly peakEventsPerSecond: number;
  readonly peakDeliveriesPerSecond: number;
  /** Cores of API instances' event loops busy at the peak. */
  readonly apiCpuCores: number;
  readonly apiMemoryBytes: number;
  readonly apiInstances: number;
  readonly apiDecidedBy: 'CPU' | 'memory' | 'connections' | 'minimum';
  readonly workerCores: number;
  readonly redisMemoryBytes: number;
  readonly redisCpuCores: number;
  readonly redisShards: number;
  readonly redisDecidedBy: 'memory' | 'CPU' | 'minimum';
  readonly sseBytesPerSecond: number;
  readonly downloadBytesPerSecond: number;
  /** Whether one SQLite service (one process) could carry it. */
  readonly sqliteFits: boolean;
  /** The resource that needs the most units of itself (instances, cores, shards, links): the first to give out as the load grows. */
  readonly bottleneck: string;
}

/** The model: what `exportsPerDay` with `watchers` concurrent watchers need, from the unit costs. */
export function size(exportsPerDay: number, watchers: number, u: ModelUnits, a: Assumptions = ASSUMPTIONS): Sizing {
  const peakExportsPerSecond = (exportsPerDay / 86_400) * a.peakToAverage;
  const peakEventsPerSecond = peakExportsPerSecond * u.eventsPerExport;
  const fanout = watchers / a.products;
  const peakDeliveriesPerSecond = peakEventsPerSecond * fanout;
  const heartbeatsPerSecond = watchers / a.heartbeatSeconds;
  // Each instance reads every event of the products its watchers follow: at most all of them,
  // at the cost of an append (an upper bound: the request and the write are not the instance's
  // when a worker appends).
  const cpuFor = (instances: number): number =>
    (instances * peakEventsPerSecond * u.appendCpuUs + peakDeliveriesPerSecond * u.deliveryCpuUs + heartbeatsPerSecond * u.heartbeatCpuUs) / 1e6;
  const apiMemoryBytes = watchers * u.sseConnectionHeapBytes;
  const byMemory = Math.ceil(apiMemoryBytes / (a.apiMemoryBytes * a.utilisation));
  const byConnections = Math.ceil(watchers / (a.apiConnections * a.utilisation));
  // CPU grows with the instances (each reads every event): the smallest count that carries its own reads.
  let byCpu = 1;
  while (cpuFor(byCpu) / byCpu > a.apiCores * a.utilisation && byCpu < 10_000) byCpu++;
  const candidates: [Sizing['apiDecidedBy'], number][] = [
    ['minimum', a.minApiInstances],
    ['CPU', byCpu],
    ['memory', byMemory],
    ['connections', byConnections],
  ];
  const [apiDecidedBy, apiInstances] = candidates.reduce((best, c) => (c[1] > best[1] ? c : best));
  const apiCpuCores = cpuFor(apiInstances);

  const workerCores = Math.max(1, Math.ceil(peakExportsPerSecond / u.workerExportsPerCoreSecond / a.utilisation));

  const redisMemoryBytes = exportsPerDay * a.retentionDays * u.redisBytesPerExportInWindow + exportsPerDay * a.outcomeRetentionDays * u.redisBytesPerFinishedExport;
  const redisCpuCores = (peakExportsPerSecond * u.redisCpuUsPerExport) / 1e6;
  const shardsByMemory = Math.ceil(redisMemoryBytes / (a.redisShardMemoryBytes * a.utilisation));
  const shardsByCpu = Math.ceil(redisCpuCores / a.utilisation);
  const [redisDecidedBy, redisShards] = (
    [
      ['minimum', 1],
      ['memory', shardsByMemory],
      ['CPU', shardsByCpu],
    ] as [Sizing['redisDecidedBy'], number][]
  ).reduce((best, c) => (c[1] > best[1] ? c : best));

  const sseBytesPerSecond = peakDeliveriesPerSecond * u.typicalFrameBytes + heartbeatsPerSecond * a.heartbeatBytes;
  const downloadBytesPerSecond = peakExportsPerSecond * a.downloadsPerExport * u.exportFileBytes;
  const sqliteFits =
    watchers <= a.apiConnections * a.utilisation &&
    apiMemoryBytes <= a.apiMemoryBytes * a.utilisation &&
    cpuFor(1) + peakEventsPerSecond / u.sqliteEventsPerCoreSecond - (peakEventsPerSecond * u.appendCpuUs) / 1e6 <= a.apiCores * a.utilisation &&
    workerCores <= 8;

  // Units of each resource needed at full use: the largest is the first to give out.
  const needs: [string, number][] = [
    ['API CPU (deliveries and heartbeats)', apiCpuCores / a.apiCores],
    ['API memory (connections)', apiMemoryBytes / a.apiMemoryBytes],
    ['API connections', watchers / a.apiConnections],
    ['worker CPU (exports)', peakExportsPerSecond / u.workerExportsPerCoreSecond],
    ['Redis memory (retention)', redisMemoryBytes / a.redisShardMemoryBytes],
    ['Redis CPU', redisCpuCores],
    ['network out', (sseBytesPerSecond + downloadBytesPerSecond) / a.linkBytesPerSecond],
  ];
  const bottleneck = needs.reduce((best, n) => (n[1] > best[1] ? n : best))[0];
  return {
    exportsPerDay,
    watchers,
    peakExportsPerSecond,
    peakEventsPerSecond,
    peakDeliveriesPerSecond,
    apiCpuCores,
    apiMemoryBytes,
    apiInstances,
    apiDecidedBy,
    workerCores,
    redisMemoryBytes,
    redisCpuCores,
    redisShards,
    redisDecidedBy,
    sseBytesPerSecond,
    downloadBytesPerSecond,
    sqliteFits,
    bottleneck,
  };
}

/** The model's units from the results, or an error naming the ones missing and the part that measures them. */
export function modelUnits(results: CapacityResults): ModelUnits {
  const missing = MODEL_UNITS.filter((name) => typeof results.units[name]?.value !== 'number' || !Number.isFinite(results.units[name].value));
  if (missing.length > 0) throw new Error(`bench/results/capacity.json lacks ${missing.join(', ')}: run npm run bench:capacity (all parts) first`);
  return Object.fromEntries(MODEL_UNITS.map((name) => [name, results.units[name]!.value])) as ModelUnits;
}

export const EXPORTS_PER_DAY = [10_000, 100_000, 1_000_000];
export const WATCHERS = [1_000, 10_000, 100_000];

const fixed = (n: number, digits: number): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const count = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: 0 });

function bytes(n: number): string {
  if (n >= 2 ** 30) return `${fixed(n / 2 ** 30, 1)} GiB`;
  if (n >= 2 ** 20) return `${fixed(n / 2 ** 20, 1)} MiB`;
  if (n >= 1024) return `${fixed(n / 1024, 1)} KiB`;
  return `${fixed(n, 0)} B`;
}

const rate = (bytesPerSecond: number): string => `${fixed((bytesPerSecond * 8) / 1e6, 1)} Mbit/s`;
const significant = (n: number): string => (Math.abs(n) >= 100 ? count(n) : Math.abs(n) >= 1 ? fixed(n, 2) : n.toPrecision(3));

/** The worked table for every size. */
export function sizingTable(results: CapacityResults): string {
  const u = modelUnits(results);
  const lines = [
    '| exports a day | watchers | peak exports/s | peak events/s | peak deliveries/s | API instances (decided by) | API CPU at peak | worker cores | Redis memory | Redis shards (decided by) | network out: SSE + downloads | one SQLite service? | bottleneck |',
    '| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | --- | --- | --- |',
  ];
  for (const exportsPerDay of EXPORTS_PER_DAY) {
    for (const watchers of WATCHERS) {
      const s = size(exportsPerDay, watchers, u);
      lines.push(
        `| ${count(exportsPerDay)} | ${count(watchers)} | ${fixed(s.peakExportsPerSecond, 2)} | ${significant(s.peakEventsPerSecond)} | ${significant(s.peakDeliveriesPerSecond)} | ${s.apiInstances} (${s.apiDecidedBy}) | ${fixed(s.apiCpuCores, 2)} cores | ${s.workerCores} | ${bytes(s.redisMemoryBytes)} | ${s.redisShards} (${s.redisDecidedBy}) | ${rate(s.sseBytesPerSecond)} + ${rate(s.downloadBytesPerSecond)} | ${s.sqliteFits ? 'yes' : 'no'} | ${s.bottleneck} |`,
      );
    }
  }
  return lines.join('\n');
}

/** The measured unit costs. */
export function unitsTable(results: CapacityResults): string {
  const lines = ['| unit cost | value | part | method |', '| --- | ---: | --- | --- |'];
  for (const [name, u] of Object.entries(results.units).sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`| \`${name}\` | ${significant(u.value)} ${u.unit} | ${u.part ?? '-'} | ${u.method.replaceAll('|', '/')} |`);
  }
  return lines.join('\n');
}

interface Check {
  readonly measured: number;
  readonly predicted: number;
  readonly ratio: number;
  readonly pass: boolean;
}

/** The load simulation against the model. */
export function simulationTable(results: CapacityResults): string {
  const sim = results.parts['sim']?.detail as
    | { watchers: number; apiInstances: number; connectionsPerInstance: number[]; checks: Record<string, Check>; openFilesLimit: number; openFilesNeeded: number; stillOpenAtEnd: number; deliveries: number; idleSeconds: number }
    | undefined;
  if (sim === undefined) return 'The load simulation has not been run: `npm run bench:capacity -- --part sim`.';
  const label: Record<string, [string, (n: number) => string]> = {
    rssPerConnection: ["RSS per connection, against the idle part's RSS (the model uses heap)", bytes],
    heapPerConnection: ['heap per connection (the model\'s `m_conn`)', bytes],
    idleCpuPerConnectionPerSecond: ['idle CPU per connection per second (1 s heartbeat)', (n) => `${fixed(n, 2)} us`],
    loadedCpuPerConnection: ['CPU per connection over a batch of exports (heartbeats + deliveries)', (n) => `${fixed(n, 1)} us`],
    idleCpuPerConnectionPerSecondSameMinutes: ['idle CPU per connection per second, against the costs measured again in the same minutes', (n) => `${fixed(n, 2)} us`],
    loadedCpuPerConnectionSameMinutes: ['CPU per connection over the batch, against the costs measured again in the same minutes', (n) => `${fixed(n, 1)} us`],
  };
  const lines = [
    `${count(sim.watchers)} watchers on ${sim.apiInstances} API instances (${sim.connectionsPerInstance.map(count).join(' and ')} streams; ${count(sim.stillOpenAtEnd)} still open at the end), ${count(sim.deliveries)} deliveries in the loaded batch; open files limit ${count(sim.openFilesLimit)}, needed about ${count(sim.openFilesNeeded)} per API instance.`,
    '',
    '| per connection | measured | model | measured / model | within 30% |',
    '| --- | ---: | ---: | ---: | --- |',
  ];
  for (const [name, check] of Object.entries(sim.checks)) {
    const [text, format] = label[name] ?? [name, (n: number) => fixed(n, 2)];
    lines.push(`| ${text} | ${format(check.measured)} | ${format(check.predicted)} | ${fixed(check.ratio, 2)}x | ${check.pass ? 'pass' : 'FAIL'} |`);
  }
  return lines.join('\n');
}

const ASSUMPTION_TEXT: Record<keyof typeof ASSUMPTIONS, [string, (n: number) => string]> = {
  peakToAverage: ['peak hour over the day\'s average rate (`p`)', (n) => `${n}x`],
  utilisation: ['share of each resource planned for at the peak (`u`): the rest is headroom', (n) => `${fixed(n * 100, 0)}%`],
  products: ['products the watchers and the exports are spread over evenly (`P`): each event goes to W / P watchers', count],
  heartbeatSeconds: ['heartbeat interval (`H`, the default `heartbeatMs`)', (n) => `${n} s`],
  heartbeatBytes: ['bytes of a heartbeat on the wire (`: heartbeat` and a blank line)', (n) => `${n} B`],
  downloadsPerExport: ['downloads of each finished file', count],
  retentionDays: ['`retentionMs` (events and full record kept), days (`R`)', count],
  outcomeRetentionDays: ['`outcomeRetentionMs` (compact outcome kept), days (`O`)', count],
  apiCores: ['cores of one API instance (one event loop: Node runs the routes on one thread)', count],
  apiMemoryBytes: ['memory of one API instance for its connections (`M_api`)', bytes],
  apiConnections: ['connections one API instance may hold (`N_api`; its open files limit must be above it)', count],
  minApiInstances: ['fewest API instances (two, so that one can restart)', count],
  redisShardMemoryBytes: ['maxmemory of one Redis shard (`M_shard`); one core each', bytes],
  linkBytesPerSecond: ['one network link out', rate],
};

/** The assumptions, as a table. */
export function assumptionsTable(): string {
  const lines = ['| assumption | value |', '| --- | ---: |'];
  for (const [name, value] of Object.entries(ASSUMPTIONS) as [keyof typeof ASSUMPTIONS, number][]) {
    const [text, format] = ASSUMPTION_TEXT[name];
    lines.push(`| ${text} | ${format(value)} |`);
  }
  return lines.join('\n');
}

/** `machine` line of the document. */
function machineLine(results: CapacityResults): string {
  const m = results.machine;
  const loads = Object.entries(results.parts)
    .map(([part, p]) => `${part} ${fixed(p.loadAverageAtStart, 1)}${p.quick ? ' (quick)' : ''}`)
    .join(', ');
  return `Measured on ${m.cpus} x ${m.cpuModel}, Node ${m.node}, ${m.redis.split(' ').slice(0, 3).join(' ')}; load average at the start of each part: ${loads}.`;
}

const SECTIONS: Record<string, (results: CapacityResults) => string> = {
  machine: machineLine,
  assumptions: () => assumptionsTable(),
  units: unitsTable,
  sizing: sizingTable,
  simulation: simulationTable,
};

/** The document with each `<!-- capacity:NAME -->` ... `<!-- capacity:end -->` section regenerated from the results. */
export function renderCapacityDoc(doc: string, results: CapacityResults): string {
  let out = doc;
  for (const [name, render] of Object.entries(SECTIONS)) {
    const start = `<!-- capacity:${name} -->`;
    const at = out.indexOf(start);
    if (at === -1) throw new Error(`docs/capacity.md lacks the marker ${start}`);
    const end = out.indexOf('<!-- capacity:end -->', at);
    if (end === -1) throw new Error(`docs/capacity.md: ${start} has no <!-- capacity:end --> after it`);
    out = `${out.slice(0, at + start.length)}\n${render(results)}\n${out.slice(end)}`;
  }
  return out;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CAPACITY_DOC = join(root, 'docs', 'capacity.md');
export const CAPACITY_RESULTS = join(root, 'bench', 'results', 'capacity.json');

/** Rewrites docs/capacity.md's generated sections from `results`. */
export function writeCapacityDoc(results: CapacityResults): void {
  writeFileSync(CAPACITY_DOC, renderCapacityDoc(readFileSync(CAPACITY_DOC, 'utf8'), results));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeCapacityDoc(JSON.parse(readFileSync(CAPACITY_RESULTS, 'utf8')) as CapacityResults);
  console.log('docs/capacity.md written from bench/results/capacity.json');
}
