/**
 * Diffs heap snapshots of one process (`npm run bench:soak -- --heap-snapshots` writes them, or
 * `v8.writeHeapSnapshot()`, or `node --heapsnapshot-signal`): what is in the last one and was
 * allocated after the first one (V8 keeps an object's id across the snapshots of a process),
 * grouped by type and constructor, with counts and bytes, largest first; then, for the top
 * groups, what holds them. Given three snapshots, only what was allocated between the first two
 * and is still live in the third counts (the three-snapshot technique): what was in flight at
 * the second is gone by the third, what stays is kept.
 *
 * Usage: `node --import tsx bench/soak/diff-heap.ts FIRST [SECOND] LAST [--top N]`.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: string[]; readonly node_types: [string[], ...unknown[]]; readonly edge_fields: string[]; readonly edge_types: [string[], ...unknown[]] } };
  readonly nodes: number[];
  readonly edges: number[];
  readonly strings: string[];
}

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt === -1 ? 25 : Number(args.splice(topAt, 2)[1]);
if ((args.length !== 2 && args.length !== 3) || !(top > 0)) {
  console.error('Usage: node --import tsx bench/soak/diff-heap.ts FIRST.heapsnapshot [SECOND.heapsnapshot] LAST.heapsnapshot [--top N]');
  process.exit(2);
}

const read = (path: string): Snapshot => JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
const earlier = read(args[0]!);
const middle = args.length === 3 ? read(args[1]!) : undefined;
const later = read(args.at(-1)!);
const meta = later.snapshot.meta;
const width = meta.node_fields.length;
const at = (field: string): number => meta.node_fields.indexOf(field);
const [TYPE, NAME, ID, SIZE, EDGES] = [at('type'), at('name'), at('id'), at('self_size'), at('edge_count')];
const edgeWidth = meta.edge_fields.length;
const [EDGE_TYPE, EDGE_NAME, EDGE_TO] = [meta.edge_fields.indexOf('type'), meta.edge_fields.indexOf('name_or_index'), meta.edge_fields.indexOf('to_node')];

// The embedder's nodes (Node's native objects, synthetic roots) get ids of their own kind, made anew each snapshot: only V8's objects are compared.
const embedder = (snapshot: Snapshot, node: number): boolean => ['native', 'synthetic'].includes(snapshot.snapshot.meta.node_types[0][snapshot.nodes[node + TYPE]!]!);
const maxId = (snapshot: Snapshot): number => {
  let max = 0;
  for (let i = 0; i < snapshot.nodes.length; i += width) if (!embedder(snapshot, i)) max = Math.max(max, snapshot.nodes[i + ID]!);
  return max;
};
const maxEarlierId = maxId(earlier);
const maxMiddleId = middle === undefined ? Number.POSITIVE_INFINITY : maxId(middle);
/** Whether a node of the last snapshot was born in the window compared. */
const counted = (node: number): boolean => {
  const id = later.nodes[node + ID]!;
  return id > maxEarlierId && id <= maxMiddleId && !embedder(later, node);
};

const label = (node: number): string => `${meta.node_types[0][later.nodes[node + TYPE]!]}:${later.strings[later.nodes[node + NAME]!]!.slice(0, 80)}`;
const groups = new Map<string, { count: number; bytes: number; example: number }>();
let total = 0;
for (let i = 0; i < later.nodes.length; i += width) {
  if (!counted(i)) continue;
  const key = label(i);
  const group = groups.get(key) ?? { count: 0, bytes: 0, example: i };
  group.count++;
  group.bytes += later.nodes[i + SIZE]!;
  total += later.nodes[i + SIZE]!;
  groups.set(key, group);
}

// Retainers: who points at each node (by node offset), built once.
const retainers = new Map<number, { from: number; edge: string }>();
let edge = 0;
for (let i = 0; i < later.nodes.length; i += width) {
  for (let e = 0; e < later.nodes[i + EDGES]!; e++, edge += edgeWidth) {
    const type = meta.edge_types[0][later.edges[edge + EDGE_TYPE]!];
    if (type === 'weak' || type === 'shortcut') continue;
    const to = later.edges[edge + EDGE_TO]!;
    if (retainers.has(to)) continue;
    const name = type === 'element' || type === 'hidden' ? `[${later.edges[edge + EDGE_NAME]}]` : String(later.strings[later.edges[edge + EDGE_NAME]!]);
    retainers.set(to, { from: i, edge: name });
  }
}
const chain = (node: number): string => {
  const steps: string[] = [];
  for (let at = node, n = 0; n < 12; n++) {
    const retainer = retainers.get(at);
    if (retainer === undefined) break;
    steps.push(`${retainer.edge} <- ${label(retainer.from)}`);
    at = retainer.from;
  }
  return steps.join('\n      ');
};

const sorted = [...groups.entries()].sort((a, b) => b[1].bytes - a[1].bytes);
console.log(`allocated ${middle === undefined ? 'after the first snapshot' : 'between the first two snapshots'} and still live in the last: ${(total / 1024).toFixed(1)} KiB in ${sorted.reduce((s, [, g]) => s + g.count, 0)} objects`);
for (const [key, group] of sorted.slice(0, top)) {
  console.log(`${String(group.count).padStart(7)} ${(group.bytes / 1024).toFixed(1).padStart(9)} KiB  ${key}`);
}
// What holds the new objects of each top group: their direct retainers, counted, and the chain above the commonest.
const topKeys = new Set(sorted.slice(0, 8).map(([key]) => key));
const heldBy = new Map<string, Map<string, { count: number; example: number }>>();
for (let i = 0; i < later.nodes.length; i += width) {
  if (!counted(i)) continue;
  const key = label(i);
  if (!topKeys.has(key)) continue;
  const retainer = retainers.get(i);
  const by = retainer === undefined ? '(none)' : `${retainer.edge} <- ${label(retainer.from)}`;
  let counts = heldBy.get(key);
  if (counts === undefined) heldBy.set(key, (counts = new Map<string, { count: number; example: number }>()));
  const entry = counts.get(by) ?? { count: 0, example: i };
  entry.count++;
  counts.set(by, entry);
}
console.log('\nwhat holds the new objects of the top 8 groups (direct retainers, commonest first, and the chain above the commonest):');
for (const [key] of sorted.slice(0, 8)) {
  const counts = [...(heldBy.get(key)?.entries() ?? [])].sort((a, b) => b[1].count - a[1].count);
  console.log(`  ${key}`);
  for (const [by, { count }] of counts.slice(0, 3)) console.log(`    ${String(count).padStart(6)}  ${by}`);
  if (counts[0] !== undefined) console.log(`      ${chain(counts[0][1].example)}`);
}
