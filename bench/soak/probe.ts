/**
 * What a soak's child process reports of itself when asked (over its IPC channel): its heap
 * after two forced collections, RSS, descriptors, threads, active handles and CPU time, plus
 * what the process adds (a client's store size). Run the process with `--expose-gc`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setImmediate as tick } from 'node:timers/promises';
import { getHeapCodeStatistics, writeHeapSnapshot } from 'node:v8';

export interface ProcessSample {
  /** V8's heap used, all of it. */
  readonly heapMb: number;
  /** What of it is compiled code and bytecode with their metadata: it grows as the JIT warms up, whatever the process keeps. */
  readonly codeMb: number;
  /** The heap less that code: the objects the program keeps. */
  readonly dataMb: number;
  readonly rssMb: number;
  readonly externalMb: number;
  readonly fds: number;
  readonly threads: number;
  readonly handles: number;
  /** User and system CPU time since the process started. */
  readonly cpuS: number;
  readonly [extra: string]: number;
}

/** A request from the soak to its child, and the answer it waits for. */
export type ProbeRequest = { readonly id: number; readonly type: 'sample' } | { readonly id: number; readonly type: 'snapshot'; readonly path: string } | { readonly id: number; readonly type: 'stop' };

const gc = (globalThis as { gc?: () => void }).gc;

/** Collects garbage twice (the second pass takes what the first one's finalizers let go), then reads the figures. */
export async function sampleProcess(extra: () => Record<string, number> = () => ({}), prepare: () => void = () => undefined): Promise<ProcessSample> {
  if (gc === undefined) throw new Error('Expected the soak child to run with --expose-gc, so its heap is measured after a collection');
  prepare();
  gc();
  // FinalizationRegistry callbacks run as tasks after the collection: let them, then collect what they released.
  await tick();
  gc();
  const memory = process.memoryUsage();
  const code = getHeapCodeStatistics();
  const codeBytes = code.code_and_metadata_size + code.bytecode_and_metadata_size;
  const cpu = process.cpuUsage();
  const status = readFileSync('/proc/self/status', 'utf8');
  return {
    heapMb: memory.heapUsed / 2 ** 20,
    codeMb: codeBytes / 2 ** 20,
    dataMb: (memory.heapUsed - codeBytes) / 2 ** 20,
    rssMb: memory.rss / 2 ** 20,
    externalMb: memory.external / 2 ** 20,
    fds: readdirSync('/proc/self/fd').length,
    threads: Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? NaN),
    handles: (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length,
    cpuS: (cpu.user + cpu.system) / 1e6,
    ...extra(),
  };
}

/**
 * Answers the soak's requests on the IPC channel: `sample`, `snapshot` (a heap snapshot written
 * to the given path, after a collection) and `stop` (runs `stop`, answers, and lets the process end).
 */
export function answerProbes(options: {
  /** Figures of the process's own, read after the collections. */
  readonly extra?: () => Record<string, number>;
  /** Run before the collections (to drop what the process keeps by design and is not measured). */
  readonly prepare?: () => void;
  readonly stop: () => Promise<Record<string, number>>;
}): void {
  const send = (message: unknown): void => void process.send!(message);
  process.on('message', (request: ProbeRequest) => {
    void (async () => {
      try {
        if (request.type === 'sample') send({ id: request.id, sample: await sampleProcess(options.extra, options.prepare) });
        else if (request.type === 'snapshot') {
          options.prepare?.();
          gc?.();
          send({ id: request.id, path: writeHeapSnapshot(request.path) });
        } else {
          const summary = await options.stop();
          send({ id: request.id, summary });
          process.disconnect();
        }
      } catch (error) {
        send({ id: request.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      }
    })();
  });
}
