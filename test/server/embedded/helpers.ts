/**
 * Helpers shared by the embedded service's tests: real temporary directories, the events of
 * one export until it is final, a listing of every file under a directory.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { filter, firstValueFrom, takeWhile, toArray } from 'rxjs';
import type { ExportBackend } from '../../../src/client/backend.js';
import type { Feature } from '../../../src/client/geojson.js';
import type { TaskEvent } from '../../../src/core/events.js';

/** A new temporary directory and the function that removes it. */
export async function makeTempDir(): Promise<{ readonly dir: string; readonly remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'export-task-test-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Every file and directory under `dir`, relative and sorted. */
export async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map((entry) => relative(dir, join(dir, entry))).sort();
}

/** The export's events from `queued` to its final one (both included). */
export function eventsUntilFinal(backend: ExportBackend, productId: string, exportId: string): Promise<TaskEvent[]> {
  return firstValueFrom(
    backend.events(productId).pipe(
      filter(({ event }) => event.export_id === exportId),
      takeWhile(({ event }) => event.type !== 'succeeded' && event.type !== 'failed', true),
      toArray(),
    ),
  ).then((events) => events.map(({ event }) => event));
}

/** The final event of an export's history. */
export function finalOf(events: readonly TaskEvent[]): TaskEvent {
  const last = events.at(-1);
  if (last === undefined || (last.type !== 'succeeded' && last.type !== 'failed')) {
    throw new Error(`Expected a final event last, got ${JSON.stringify(last)}`);
  }
  return last;
}

/** The whole body of a web stream as text. */
export async function readText(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

/** Points on a grid, with `n` (the rank), `name` and `kind` properties. */
export function gridFeatures(count: number, width = 100): Feature[] {
  return Array.from({ length: count }, (_, i) => ({
    type: 'Feature',
    id: `f${i}`,
    geometry: { type: 'Point', coordinates: [i % width, Math.floor(i / width)] },
    properties: { n: i, name: `feature ${i}`, kind: i % 2 === 0 ? 'even' : 'odd' },
  }));
}
