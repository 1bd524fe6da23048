import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { redisKeys } from './redis-keys.js';
import { describeTarget } from './check-redis-target.js';
import type { RedisTarget } from './check-redis-target.js';
import type { RedisConnection } from './redis-target.js';

/** The marker's file name in the data directory. @internal */
export const MARKER_FILE = '.export-task-data-dir';

/** What the marker file holds. */
interface Marker {
  readonly id: string;
}

async function readMarker(dataDir: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, MARKER_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const id = (JSON.parse(text) as Partial<Marker>).id;
  if (typeof id !== 'string' || id === '') throw new Error(`${join(dataDir, MARKER_FILE)} is not a data directory marker of export-task: remove it, and start an API instance on the directory again`);
  return id;
}

/**
 * The API instance's side: the data directory gets a marker file with an id (written once,
 * by whichever instance comes first), and Redis keeps the same id. An instance whose directory
 * has another id than Redis's refuses to start: it is not the directory the others share.
 * @throws Error saying which directory and what to fix.
 * @internal
 */
export async function markDataDir(redis: RedisConnection, target: RedisTarget, dataDir: string): Promise<string> {
  let id = await readMarker(dataDir);
  if (id === undefined) {
    try {
      await writeFile(join(dataDir, MARKER_FILE), `${JSON.stringify({ id: randomUUID() } satisfies Marker)}\n`, { flag: 'wx' });
    } catch (error) {
      // Another instance wrote it first: its id is the one.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    id = (await readMarker(dataDir))!;
  }
  await redis.set(redisKeys.dataDirId, id, 'NX');
  const shared = await redis.get(redisKeys.dataDirId);
  if (shared !== id) throw mismatch(dataDir, target, id, shared, 'API instances');
  return id;
}

/**
 * The worker's side: its data directory must hold the marker an API instance of the same
 * Redis wrote. A Redis that lost the id (emptied) takes it back from the directory.
 * @throws Error saying which directory and what to fix.
 * @internal
 */
export async function checkDataDir(redis: RedisConnection, target: RedisTarget, dataDir: string): Promise<void> {
  const id = await readMarker(dataDir);
  if (id === undefined) {
    throw new Error(
      `${dataDir} is not the data directory of the API instances: it has no ${MARKER_FILE} marker, which an API instance ` +
        `(export-task serve ${target.kind === 'server' ? `--redis ${describeTarget(target)}` : `--redis-cluster ${target.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`} --data-dir <dir>) writes when it starts. Give --data-dir the directory the API instances use ` +
        '(shared with them), or start an API instance on this one first',
    );
  }
  await redis.set(redisKeys.dataDirId, id, 'NX');
  const shared = await redis.get(redisKeys.dataDirId);
  if (shared !== id) throw mismatch(dataDir, target, id, shared, 'API instances and workers');
}

function mismatch(dataDir: string, target: RedisTarget, id: string, shared: string | null, others: string): Error {
  return new Error(
    `${dataDir} is not the data directory the ${others} on ${describeTarget(target)} use: its marker (${MARKER_FILE}) says ${id}, Redis says ${shared ?? 'nothing'}. ` +
      `Give --data-dir the directory they share; if this Redis is meant to move to this directory, delete the key ${redisKeys.dataDirId} first`,
  );
}
