/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): the functions with the most self time and,
 * with `--lines`, the hottest source lines (meaningful for a bundled script: under tsx every
 * module is one line).
 *
 *   node --import tsx bench/profile/top.ts <file.cpuprofile> [count] [--lines]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  positionTicks?: { line: number; ticks: number }[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const lines = args.includes('--lines');
const [file, countArg] = args.filter((a) => a !== '--lines');
if (file === undefined) {
  console.error('usage: top.ts <file.cpuprofile> [count] [--lines]');
  process.exit(2);
}
const count = Number(countArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const where = (url: string): string => (url.startsWith('file://') ? relative(process.cwd(), fileURLToPath(url)) : url);

const self = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  const frame = byId.get(id)!.callFrame;
  const name = `${frame.functionName || '(anonymous)'}${frame.url === '' ? '' : `  ${where(frame.url)}`}`;
  self.set(name, (self.get(name) ?? 0) + dt);
});
console.log(`self time, ${(total / 1000).toFixed(0)} ms sampled:`);
for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, count)) {
  console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`);
}

if (lines) {
  const ticks = new Map<string, number>();
  let all = 0;
  for (const node of profile.nodes) {
    all += node.hitCount ?? 0;
    const url = node.callFrame.url;
    // Our code only: a bundle of a profile script lives in node_modules/.cache.
    if (!url.startsWith('file://') || (url.includes('/node_modules/') && !url.includes('/node_modules/.cache/'))) continue;
    for (const { line, ticks: n } of node.positionTicks ?? []) {
      const key = `${url}:${line}`;
      ticks.set(key, (ticks.get(key) ?? 0) + n);
    }
  }
  const sources = new Map<string, string[]>();
  console.log('\nhottest lines:');
  for (const [key, n] of [...ticks].sort((a, b) => b[1] - a[1]).slice(0, count)) {
    const at = key.lastIndexOf(':');
    const url = key.slice(0, at);
    const line = Number(key.slice(at + 1));
    if (!sources.has(url)) sources.set(url, readFileSync(fileURLToPath(url), 'utf8').split('\n'));
    const text = sources.get(url)![line - 1]?.trim().slice(0, 100) ?? '';
    console.log(`${((100 * n) / all).toFixed(1).padStart(5)}%  ${`${where(url)}:${line}`.padEnd(28)} ${text}`);
  }
}
