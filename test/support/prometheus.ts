/**
 * Reading a service's `/metrics` as Prometheus would: the text checked by `promtool check
 * metrics` (Debian's `prometheus` package, which .ci/run installs), its samples read for their
 * values, and the naming rules of https://prometheus.io/docs/practices/naming/ checked on every
 * family. (The npm parser of the format, parse-prometheus-text-format 1.1.1, loses samples of
 * labelled histograms and the last sample of a family, so the lines are read here, strictly:
 * a line that is not a comment or a sample fails the read.)
 */
import { execFile } from 'node:child_process';

/** One family: its `# HELP` and `# TYPE`. */
export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: string;
}

/** One sample line: `name{labels} value`. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A scrape: the text, its families and its samples. */
export interface Scrape {
  readonly text: string;
  readonly families: MetricFamily[];
  readonly samples: Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;

/** The families and samples of a text exposition (format 0.0.4). @throws Error on a line of neither kind. */
export function parseExposition(text: string): { families: MetricFamily[]; samples: Sample[] } {
  const families = new Map<string, { name: string; help: string; type: string }>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta !== null) {
      const family = families.get(meta[2]!) ?? { name: meta[2]!, help: '', type: 'untyped' };
      if (meta[1] === 'HELP') family.help = meta[3]!;
      else family.type = meta[3]!;
      families.set(family.name, family);
      continue;
    }
    const match = SAMPLE.exec(line);
    if (match === null) throw new Error(`Not a line of the Prometheus text format: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const body = match[2] ?? '';
    let read = 0;
    LABEL.lastIndex = 0;
    for (let m = LABEL.exec(body); m !== null; m = LABEL.exec(body)) {
      labels[m[1]!] = JSON.parse(`"${m[2]!}"`) as string;
      read = LABEL.lastIndex;
    }
    if (read !== body.length) throw new Error(`Bad labels in ${JSON.stringify(line)}`);
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return { families: [...families.values()], samples };
}

/**
 * The sum of the samples of `name` whose labels include `labels` (`x_count` for a histogram's
 * count); 0 when there is none yet (a counter never moved).
 */
export function sample(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value))
    .reduce((total, s) => total + s.value, 0);
}

/** GETs `/metrics` and parses it. */
export async function scrape(base: string, token?: string): Promise<Scrape> {
  const response = await fetch(`${base}/metrics`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}: ${text}`);
  if (!response.headers.get('content-type')?.startsWith('text/plain; version=0.0.4')) {
    throw new Error(`GET /metrics answered ${response.headers.get('content-type')}, not the Prometheus text format`);
  }
  return { text, ...parseExposition(text) };
}

/** Whether `promtool` is on PATH (the `prometheus` package; .ci/run installs it). */
export const HAS_PROMTOOL = await new Promise<boolean>((resolve) => {
  execFile('promtool', ['--version'], (error) => resolve(error === null));
});

/** `promtool check metrics` on the text: its complaints (lint problems included), empty when none. */
export function promtoolCheck(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('promtool', ['check', 'metrics'], (error, stdout, stderr) => {
      if (error !== null && error.code === undefined) reject(error);
      else resolve(`${stdout}${stderr}`.trim());
    });
    child.stdin?.end(text);
  });
}

/**
 * What breaks Prometheus's naming rules among the families: a name outside `[a-z_][a-z0-9_]*`
 * or without `prefix`, a counter not ending in `_total`, a histogram or gauge of time or size
 * not in base units (`_seconds`, `_bytes`), a `_total` that is not a counter, an empty help.
 */
export function namingProblems(families: readonly MetricFamily[], prefix: string): string[] {
  const problems: string[] = [];
  for (const { name, type, help } of families) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) problems.push(`${name}: not snake_case ASCII`);
    if (!name.startsWith(prefix)) problems.push(`${name}: not prefixed ${prefix}`);
    if (type === 'counter' && !name.endsWith('_total')) problems.push(`${name}: a counter not ending in _total`);
    if (type !== 'counter' && name.endsWith('_total')) problems.push(`${name}: a ${type} ending in _total`);
    if (/_(ms|milliseconds|minutes|kb|mb|mib|kib)(_|$)/.test(name)) problems.push(`${name}: not in base units`);
    if (type === 'histogram' && !/_(seconds|bytes)$/.test(name)) problems.push(`${name}: a histogram without its unit (_seconds, _bytes)`);
    if (help.trim() === '') problems.push(`${name}: no help`);
  }
  return problems;
}
