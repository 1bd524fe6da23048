/**
 * The long-lived client of `npm run bench:soak`, in a process of its own (run with `--expose-gc
 * --import tsx`, forked with an IPC channel). Arguments: `URL PRODUCT FOLLOW`. It follows
 * FOLLOW exports of the product at a time, each of its own: starts one, waits for its end,
 * drops it, pauses a second and starts the next, while other clients run many more exports on
 * the same product (its stream carries their events too). Its probes add the store's size, the
 * tasks it holds, those it followed and how many of the dropped ones were collected (a
 * FinalizationRegistry count), and the bytes read from its event streams.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, type ExportTask } from '../../src/index.node.js';
import { answerProbes } from './probe.js';
import { countingFetch } from '../../test/support/counting-fetch.js';

const [url, product, followArg] = process.argv.slice(2);
const follow = Number(followArg);
if (url === undefined || product === undefined || !(follow > 0)) throw new Error(`Expected "URL PRODUCT FOLLOW", got ${JSON.stringify(process.argv.slice(2))}`);

/** Counts the bytes of event streams, to show the product's traffic reaches this client. */
const counter = countingFetch();

const client = createClient({ url, fetch: counter.fetch });
const collection = client.featureCollection(product);
let held = 0;
let followed = 0;
let failed = 0;
let collected = 0;
const dropped = new FinalizationRegistry<undefined>(() => collected++);
let running = true;

async function lane(lane: number): Promise<void> {
  for (let n = 0; running; n++) {
    let task: ExportTask | undefined = await collection.export(`soak/follow/${lane}/${n}.ndjson`);
    held++;
    try {
      await task.getResult({ wait: true, timeout: 60_000 });
    } catch {
      failed++;
    }
    followed++;
    dropped.register(task, undefined);
    task = undefined;
    held--;
    await sleep(1_000);
  }
}
const lanes = Array.from({ length: follow }, (_, i) => lane(i).catch(() => void failed++));

answerProbes({
  // Node keeps the timing of a process's first 250 fetches (its resource-timing buffer, whoever
  // made them): bounded, and the application's, so it is emptied before each sample.
  prepare: () => performance.clearResourceTimings(),
  extra: () => ({ storeSize: client.store.size, held, followed, collected, streamedKb: counter.streamed() / 1024 }),
  stop: async () => {
    running = false;
    await Promise.all(lanes);
    await client.close();
    return { followed, failed, collected };
  },
});
process.send!({ ready: true });
