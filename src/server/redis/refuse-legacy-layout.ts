import { LEGACY_KEYS } from './redis-keys.js';
import { describeTarget } from './check-redis-target.js';
import type { RedisTarget } from './check-redis-target.js';
import type { RedisConnection } from './redis-target.js';

/**
 * Refuses a Redis that holds data of the key layout before hash tags
 * (`export-task:events/<product>`, `bull:export-task-exports:*`): this version neither reads
 * those keys nor could run their scripts on a cluster, so an instance started on them would
 * show every product as gone and leave the old queue's jobs to no worker. One `EXISTS` per
 * key of {@link LEGACY_KEYS} (single-key commands, so they run on a cluster too), at start only.
 * @throws Error saying what was found and what to do: drain the old deployment, then remove its keys.
 * @internal
 */
export async function refuseLegacyLayout(redis: RedisConnection, target: RedisTarget): Promise<void> {
  const found: string[] = [];
  for (const key of LEGACY_KEYS) if ((await redis.exists(key)) === 1) found.push(key);
  if (found.length === 0) return;
  throw new Error(
    `${describeTarget(target)} holds data of an older export-task (its keys without hash tags: ${found.join(', ')}), which this version does not read. ` +
      'Drain it first: stop its API instances, let its workers finish the exports in flight, stop them, then remove its keys ' +
      "(redis-cli --scan --pattern 'export-task:[a-z]*/*' and --pattern 'bull:export-task-exports:*', piped to redis-cli unlink, then redis-cli unlink export-task:data-dir-id export-task:product-of export-task:retention) " +
      'and start this version: the exported files stay in the data directory, the products and their exports\' history are to be made again. Or give this version another Redis (docs/server.md, "Migrating from the layout without hash tags")',
  );
}
