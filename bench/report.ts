/** The rows every case produces, and the table `npm run bench` prints. */

export type Unit = 'ns/event' | 'B/task' | 'B/wait' | 'ns/wait' | 'ns/task' | 'x';

export interface Row {
  /** Which goal of the issue the row measures: `1 time`, `1 heap`, `2 waits`, ... */
  readonly goal: string;
  /** `ours`, or the alternative a user would pick instead. */
  readonly subject: string;
  readonly n: number;
  readonly unit: Unit;
  /** The subject's cost (median of the rounds). */
  readonly value: number;
  /** The baseline's cost, measured in the same process. */
  readonly baseline: number;
  readonly baselineName: string;
  /** value / baseline. */
  readonly ratio: number;
  /** The highest ratio the goal allows, when the row is judged. */
  readonly target: number | null;
  readonly pass: boolean | null;
  readonly note?: string;
}

/**
 * A row; its ratio is `value / baseline` unless given (the median of per-round ratios, which
 * is steadier on a shared machine than the ratio of two medians).
 */
export function row(fields: Omit<Row, 'ratio' | 'pass'> & { readonly ratio?: number }): Row {
  const ratio = fields.ratio ?? fields.value / fields.baseline;
  return { ...fields, ratio, pass: fields.target === null ? null : ratio <= fields.target };
}

function formatValue(value: number, unit: Unit): string {
  if (unit === 'x') return `${value.toFixed(2)}x`;
  if (unit === 'B/task' || unit === 'B/wait') return `${value.toFixed(0)} B`;
  if (value >= 10_000) return `${(value / 1000).toFixed(1)} us`;
  if (value >= 1000) return `${(value / 1000).toFixed(2)} us`;
  return `${value.toFixed(0)} ns`;
}

const label: Record<Unit, string> = {
  'ns/event': 'per event',
  'B/task': 'heap per task',
  'B/wait': 'heap per wait',
  'ns/wait': 'per wait',
  'ns/task': 'per task',
  x: 'growth',
};

/** A plain-text table (also valid Markdown). */
export function table(rows: readonly Row[], subjectColumn: boolean): string {
  const head = ['goal', ...(subjectColumn ? ['what'] : []), 'N', 'measure', subjectColumn ? 'cost' : 'ours', 'baseline', 'ratio', 'target', 'result'];
  const body = rows.map((r) => [
    r.goal,
    ...(subjectColumn ? [r.subject] : []),
    r.n.toLocaleString('en-US'),
    label[r.unit],
    formatValue(r.value, r.unit),
    `${formatValue(r.baseline, r.unit)} (${r.baselineName})`,
    `${r.ratio.toFixed(2)}x`,
    r.target === null ? '-' : `<= ${r.target}x`,
    r.pass === null ? '-' : r.pass ? 'pass' : 'FAIL',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
