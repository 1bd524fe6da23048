/**
 * Draws the results as an SVG, by hand: one panel per goal, the cost against the number of
 * tasks, both axes on a log scale (a flat line is O(1) per unit, a line rising one decade per
 * decade is O(N)).
 */
import type { Row } from './report.js';

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [n: number, value: number])[];
}

export interface Panel {
  readonly title: string;
  readonly unit: string;
  readonly series: readonly Series[];
}

const COLORS = ['#1b6ac9', '#6b6b6b', '#d1495b', '#edae49', '#00798c', '#8d5a97'];
const WIDTH = 400;
const HEIGHT = 290;
const MARGIN = { left: 62, right: 14, top: 34, bottom: 40 };

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function formatTick(value: number, unit: string): string {
  if (unit === 'bytes') return value >= 1000 ? `${value / 1000} kB` : `${value} B`;
  if (value >= 1e9) return `${value / 1e9} s`;
  if (value >= 1e6) return `${value / 1e6} ms`;
  if (value >= 1e3) return `${value / 1e3} us`;
  return `${value} ns`;
}

function panelSvg(panel: Panel, x0: number, y0: number): string {
  const points = panel.series.flatMap((s) => s.points);
  if (points.length === 0) return '';
  const ns = points.map(([n]) => n);
  const values = points.map(([, v]) => Math.max(v, 1));
  const xMin = Math.log10(Math.min(...ns));
  const xMax = Math.max(Math.log10(Math.max(...ns)), xMin + 1);
  const yMin = Math.floor(Math.log10(Math.min(...values)));
  const yMax = Math.max(Math.ceil(Math.log10(Math.max(...values))), yMin + 1);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const px = (n: number): number => x0 + MARGIN.left + ((Math.log10(n) - xMin) / (xMax - xMin)) * plotW;
  const py = (v: number): number => y0 + MARGIN.top + plotH - ((Math.log10(Math.max(v, 1)) - yMin) / (yMax - yMin)) * plotH;
  const out: string[] = [];
  out.push(`<text x="${x0 + WIDTH / 2}" y="${y0 + 18}" text-anchor="middle" font-weight="bold">${escape(panel.title)}</text>`);
  out.push(`<rect x="${x0 + MARGIN.left}" y="${y0 + MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  for (let d = yMin; d <= yMax; d++) {
    const y = py(10 ** d);
    out.push(`<line x1="${x0 + MARGIN.left}" x2="${x0 + MARGIN.left + plotW}" y1="${y}" y2="${y}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${x0 + MARGIN.left - 5}" y="${y + 4}" text-anchor="end" font-size="11">${formatTick(10 ** d, panel.unit)}</text>`);
  }
  for (let d = Math.ceil(xMin); d <= Math.floor(xMax); d++) {
    const x = px(10 ** d);
    out.push(`<line x1="${x}" x2="${x}" y1="${y0 + MARGIN.top}" y2="${y0 + MARGIN.top + plotH}" stroke="#e3e3e3"/>`);
    const label = 10 ** d >= 1000 ? `${10 ** d / 1000}k` : String(10 ** d);
    out.push(`<text x="${x}" y="${y0 + MARGIN.top + plotH + 15}" text-anchor="middle" font-size="11">${label}</text>`);
  }
  out.push(`<text x="${x0 + MARGIN.left + plotW / 2}" y="${y0 + HEIGHT - 8}" text-anchor="middle" font-size="11">tasks (N)</text>`);
  panel.series.forEach((series, i) => {
    const color = COLORS[i % COLORS.length]!;
    const dash = series.name.startsWith('baseline') ? ' stroke-dasharray="5 3"' : '';
    const path = series.points.map(([n, v], j) => `${j === 0 ? 'M' : 'L'}${px(n).toFixed(1)},${py(v).toFixed(1)}`).join(' ');
    out.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    for (const [n, v] of series.points) out.push(`<circle cx="${px(n).toFixed(1)}" cy="${py(v).toFixed(1)}" r="3" fill="${color}"/>`);
    const ly = y0 + MARGIN.top + 12 + i * 14;
    out.push(`<line x1="${x0 + MARGIN.left + 8}" x2="${x0 + MARGIN.left + 24}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${x0 + MARGIN.left + 28}" y="${ly}" font-size="11">${escape(series.name)}</text>`);
  });
  return out.join('\n');
}

/** An SVG document of the panels, three to a row. */
export function chartSvg(panels: readonly Panel[], caption: string): string {
  const columns = 3;
  const rowsCount = Math.ceil(panels.length / columns);
  const width = columns * WIDTH;
  const height = rowsCount * HEIGHT + 30;
  const body = panels.map((panel, i) => panelSvg(panel, (i % columns) * WIDTH, Math.floor(i / columns) * HEIGHT)).join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    body,
    `<text x="8" y="${height - 10}" font-size="11" fill="#555">${escape(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}

function seriesOf(rows: readonly Row[], name: string, pick: (r: Row) => boolean, value: (r: Row) => number): Series {
  return { name, points: rows.filter(pick).map((r) => [r.n, value(r)] as const) };
}

/** The panels of a run's rows. */
export function panelsOf(rows: readonly Row[], alternatives: readonly Row[]): Panel[] {
  const goal = (g: string, unit: string) => (r: Row) => r.goal === g && r.unit === unit;
  const own = (r: Row): number => r.value;
  const base = (r: Row): number => r.baseline;
  const alt = (subject: string, g: string, unit: string) => (r: Row) => r.subject === subject && goal(g, unit)(r);
  return [
    {
      title: '1. apply: time per event',
      unit: 'ns',
      series: [
        seriesOf(rows, 'TaskStore.apply', goal('1 apply', 'ns/event'), own),
        seriesOf(rows, 'baseline: hand-written reducer', goal('1 apply', 'ns/event'), base),
        seriesOf(alternatives, 'XState actor per task', alt('XState actor per task', '1 apply', 'ns/event'), own),
      ],
    },
    {
      title: '1. retained heap per task',
      unit: 'bytes',
      series: [
        seriesOf(rows, 'TaskStore', goal('1 heap', 'B/task'), own),
        seriesOf(rows, 'baseline: hand-written reducer', goal('1 heap', 'B/task'), base),
        seriesOf(alternatives, 'XState actor per task', alt('XState actor per task', '1 heap', 'B/task'), own),
      ],
    },
    {
      title: '2. cost per wait with a timeout',
      unit: 'ns',
      series: [
        seriesOf(rows, 'TaskStore.settled', goal('2 settled()', 'ns/wait'), own),
        seriesOf(rows, 'ExportTask.getResult', goal('2 getResult()', 'ns/wait'), own),
        seriesOf(rows, 'baseline: bare promise', goal('2 settled()', 'ns/wait'), base),
        seriesOf(alternatives, 'xstate waitFor', alt('xstate waitFor', '2 waits', 'ns/wait'), own),
      ],
    },
    {
      title: '2. heap per pending wait',
      unit: 'bytes',
      series: [
        seriesOf(rows, 'TaskStore.settled', goal('2 heap', 'B/wait'), own),
        seriesOf(rows, 'baseline: bare promise', goal('2 heap', 'B/wait'), base),
        seriesOf(alternatives, 'xstate waitFor', alt('xstate waitFor', '2 heap', 'B/wait'), own),
      ],
    },
    {
      title: '3. per event, every task subscribed',
      unit: 'ns',
      series: [
        seriesOf(rows, 'watch() on every task', goal('3 watch()', 'ns/event'), own),
        seriesOf(rows, 'baseline: no subscriber', goal('3 watch()', 'ns/event'), base),
        seriesOf(alternatives, 'rxjs filter per subscriber', alt('rxjs filter per subscriber', '3 subscriptions', 'ns/event'), own),
      ],
    },
    {
      title: '4. listExports: time per task',
      unit: 'ns',
      series: [
        seriesOf(rows, 'ExportTask from listExports', goal('4 listExports()', 'ns/task'), own),
        seriesOf(rows, 'baseline: plain objects', goal('4 listExports()', 'ns/task'), base),
      ],
    },
  ];
}
