/**
 * `export-task watch`: follow exports of a running service until they are final.
 *
 * @packageDocumentation
 */
import type { Subscription } from 'rxjs';
import type { ExportClient } from '../../client/create-client.js';
import type { ExportTask } from '../../client/export-task.js';
import { isFinalPhase } from '../../core/events.js';
import type { ExportTaskSnapshot } from '../../core/snapshot.js';
import { TaskStore } from '../../core/task-store.js';
import type { HttpBackend } from '../../client/http/http-backend.js';

import { ProgressView, type ProgressState } from '../progress-view.js';
import { formatTable } from '../table.js';
import { CONNECTION_OPTIONS, checkId, parseConnection, withClient, describeError, type CommandIo, type ConnectionFlags } from './connection.js';

/** What `watch` is asked to do. */
export interface WatchOptions extends ConnectionFlags {
  readonly productId: string;
  /** The exports to follow; empty: the product's exports in flight, and those started while watching. */
  readonly exportIds: readonly string[];
  /** One JSON object per line instead of bars. */
  readonly json: boolean;
  /** Plain progress lines even on a terminal. */
  readonly plain: boolean;
}

/**
 * How long the product's event stream must go without a new export before `watch` (with no
 * export named) takes what it has read as the product's history: the stream replays every
 * past event first, and an export whose `queued` event is replayed may well have ended later on.
 */
export const DISCOVERY_QUIET_MS = 500;

/** The exit code when any followed export failed. */
const FAILED = 1;
/** The exit code after Ctrl-C, as shells report a process stopped by SIGINT. */
const INTERRUPTED = 130;

/** The `watch` command, in the shape `src/cli/main.ts` lists its commands in. */
export const watchCommand = {
  name: 'watch',
  summary: 'Follow exports with live progress bars until they end; exit 1 if any failed',
  description: [
    'Shows the progress of the named exports of a product (live bars on a terminal, a line per phase change',
    'or 25% step elsewhere) until every one of them is final, then a line per export with its outcome.',
    'With no export named, follows the exports of the product that are in flight (pending or running) and',
    "those started while it watches. It learns them from the service's in-flight status route",
    '(GET .../search/export/status?in_flight=true), after subscribing to new exports at the end of the',
    "product's event stream; a service without that route is read from its history instead: once",
    `${DISCOVERY_QUIET_MS} ms pass without a new export in it, the exports not final are in flight. With`,
    'nothing in flight, it says so and exits 0.',
    'Exit codes: 0 when every export succeeded, 1 when any failed (or the service answered an error),',
    '2 for a usage error, 130 when interrupted.',
    'With --json, prints one JSON object per line: {"type":"snapshot","snapshot":{...}} for each change of',
    'an export, then {"type":"summary","succeeded":n,"failed":n,"exports":[...]}.',
  ].join('\n'),
  options: {
    ...CONNECTION_OPTIONS,
    json: { type: 'boolean', description: 'One JSON object per line (snapshots, then a summary), for scripts' },
    plain: { type: 'boolean', description: 'Plain progress lines, no escapes (default on a pipe or with NO_COLOR)' },
  },
  arguments: [
    { name: 'product', description: 'The product (feature collection) id' },
    { name: 'export', description: 'Export ids to follow (default: those in flight)', variadic: true },
  ],
  parse(values: Readonly<Record<string, string | boolean | undefined>>, positionals: readonly string[]): WatchOptions {
    const [productId = '', ...exportIds] = positionals;
    return {
      ...parseConnection(values),
      productId: checkId('product', productId),
      exportIds: [...new Set(exportIds.map((id) => checkId('export', id)))],
      json: values['json'] === true,
      plain: values['plain'] === true,
    };
  },
  run: (options: WatchOptions, io: CommandIo): Promise<number> => withClient('watch', options, io, (client) => followExports(client, options, io)),
} as const;

/** What {@link followExports} needs to know. */
export interface FollowOptions extends Pick<WatchOptions, 'productId' | 'exportIds' | 'json' | 'plain'> {
  /** Tasks of `exportIds` already at hand (`export --watch` has the one it started, with its key). */
  readonly tasks?: readonly ExportTask[] | undefined;
}

/**
 * Follows the exports (those named, or with none named those in flight), showing them, until
 * all are final or `io.signal` aborts; `watch` and `export --watch` run it.
 *
 * @returns The exit code: 0 when all succeeded, 1 when any failed, 130 when interrupted.
 */
export async function followExports(client: ExportClient, options: FollowOptions, io: CommandIo): Promise<number> {
  const product = client.featureCollection(options.productId);
  const view = options.json ? undefined : new ProgressView(io.stdout, { mode: ProgressView.modeFor(io.stdout, io.env, options.plain) });
  const followed = new Map<string, { task: ExportTask; last: ExportTaskSnapshot }>();
  const subscriptions: Subscription[] = [];
  let quietTimer: NodeJS.Timeout | undefined;
  const discover = options.exportIds.length === 0;
  /**
   * Still learning which exports to follow (reading the product's history, or opening the named
   * exports): until then, all followed exports being final does not mean done.
   */
  let gathering = true;
  /** Exports found in flight whose task is being fetched. */
  let adopting = 0;
  let finish: (outcome: 'done' | 'interrupted' | Error) => void = () => undefined;
  const finished = new Promise<'done' | 'interrupted' | Error>((resolve) => (finish = resolve));
  const onAbort = (): void => finish('interrupted');
  io.signal.addEventListener('abort', onAbort, { once: true });
  if (io.signal.aborted) onAbort();

  const checkDone = (): void => {
    if (!gathering && adopting === 0 && [...followed.values()].every(({ last }) => isFinalPhase(last.phase))) finish('done');
  };
  /** Set once the watch has ended: a task fetched after that is not followed. */
  let ended = false;
  const labels = new Set<string>();
  /** Exports whose row is labelled by its key. */
  const labelled = new Set<string>();
  /** A row's label: the export's key, which users chose and know; with its id when another row has that key. */
  const label = (key: string, exportId: string): string => {
    const text = labels.has(key) ? `${key} (${exportId})` : key;
    labels.add(text);
    return text;
  };
  const follow = (task: ExportTask): void => {
    if (ended || followed.has(task.exportId)) return;
    followed.set(task.exportId, { task, last: task.snapshot });
    // Known for an export this client started, or one that is final; the id until then for the others.
    const key = task.key ?? task.snapshot.attributes?.key ?? undefined;
    if (key !== undefined) labelled.add(task.exportId);
    view?.add(task.exportId, key === undefined ? task.exportId : label(key, task.exportId));
    subscriptions.push(
      task.state$.subscribe({
        next: (snapshot) => {
          followed.set(task.exportId, { task, last: snapshot });
          if (view === undefined) {
            io.stdout.write(`${JSON.stringify({ type: 'snapshot', snapshot })}\n`);
            return;
          }
          // The service names an export's key once it is final: the row takes it then.
          const key = snapshot.attributes?.key;
          if (!labelled.has(task.exportId) && key !== undefined && key !== null) {
            labelled.add(task.exportId);
            view.relabel(task.exportId, label(key, task.exportId));
          }
          view.update(task.exportId, progressState(snapshot));
        },
        complete: checkDone,
        error: fail,
      }),
    );
  };

  const fail = (error: unknown): void => finish(error instanceof Error ? error : new Error(String(error)));
  /** Follows an export found in flight or started while watching, once. */
  const adopted = new Set<string>();
  const adopt = (exportId: string): void => {
    if (adopted.has(exportId)) return;
    adopted.add(exportId);
    adopting++;
    product.getExport(exportId).then((task) => {
      adopting--;
      follow(task);
      checkDone();
    }, fail);
  };

  /**
   * The product's whole history, then each new event: exports not final once the history is
   * read are in flight; an export that appears later was started while watching. For a
   * service without the in-flight status route.
   */
  const discoverFromHistory = (): void => {
    const seen = new TaskStore();
    const pending = new Set<string>();
    const known = new Set<string>();
    const settle = (): void => {
      gathering = false;
      for (const id of pending) adopt(id);
      pending.clear();
      checkDone();
    };
    subscriptions.push(
      client.backend.events(options.productId).subscribe({
        next: ({ event }) => {
          let snapshot: ExportTaskSnapshot;
          try {
            snapshot = seen.apply(event);
          } catch (error) {
            io.stderr.write(`export-task watch: skipped an event: ${describeError(error)}\n`);
            return;
          }
          if (gathering) {
            if (isFinalPhase(snapshot.phase)) pending.delete(snapshot.exportId);
            else pending.add(snapshot.exportId);
            // Only a new export restarts the wait: exports in flight send progress all the time.
            if (!known.has(snapshot.exportId)) {
              known.add(snapshot.exportId);
              clearTimeout(quietTimer);
              quietTimer = setTimeout(settle, DISCOVERY_QUIET_MS);
            }
          } else if (!followed.has(snapshot.exportId) && event.type === 'queued') {
            adopt(snapshot.exportId);
          }
        },
        error: fail,
      }),
    );
    // A product without any event yet: its stream stays silent, which is as quiet as it gets.
    quietTimer ??= setTimeout(settle, DISCOVERY_QUIET_MS);
  };

  try {
    if (discover && (client.backend as Partial<HttpBackend>).inFlight !== undefined) {
      // Subscribe at the stream's current end first, then ask what is in flight: an export
      // started in between is in one or the other (or both), and none is missed.
      const backend = client.backend as HttpBackend;
      subscriptions.push(
        backend.events(options.productId, { from: 'now' }).subscribe({
          next: ({ event }) => {
            if (event.type === 'queued') adopt(event.export_id);
          },
          error: fail,
        }),
      );
      let inFlight: readonly { readonly export_id: string }[] | undefined;
      try {
        inFlight = await backend.inFlight(options.productId);
      } catch (error) {
        // A service that cannot list them (501): learn them from the product's history instead.
        if ((error as { status?: unknown }).status !== 501) throw error;
      }
      if (inFlight === undefined) discoverFromHistory();
      else {
        for (const snapshot of inFlight) adopt(snapshot.export_id);
        gathering = false;
        checkDone();
      }
    } else if (discover) {
      discoverFromHistory();
    } else {
      const known = new Map((options.tasks ?? []).map((task) => [task.exportId, task]));
      for (const task of await Promise.all(options.exportIds.map(async (id) => known.get(id) ?? product.getExport(id)))) follow(task);
      gathering = false;
      checkDone();
    }
    const outcome = await finished;
    if (outcome instanceof Error) throw outcome;
    view?.close();
    if (outcome === 'interrupted') {
      io.stderr.write('export-task watch: interrupted\n');
      return INTERRUPTED;
    }
    return report(options, [...followed.values()].map(({ last }) => last), io);
  } finally {
    ended = true;
    clearTimeout(quietTimer);
    view?.close();
    io.signal.removeEventListener('abort', onAbort);
    for (const subscription of subscriptions) subscription.unsubscribe();
  }
}

/**
 * What a row shows: the phase, progress and message, and once failed, why (its failure type and
 * exception), at once rather than only in the final table. A cancelled export reads `cancelled`.
 */
function progressState(snapshot: ExportTaskSnapshot): ProgressState {
  const attributes = snapshot.attributes;
  if (snapshot.phase === 'failure') {
    const failureType = attributes?.failureType ?? null;
    const why = [failureType, attributes?.exceptionName].filter((part) => part !== null && part !== undefined && part !== '').join(': ');
    return { phase: failureType === 'cancelled' ? 'cancelled' : 'failure', progress: snapshot.progress, message: failureType === 'cancelled' ? null : why };
  }
  if (snapshot.phase !== 'success' && snapshot.cancelRequested) return { phase: snapshot.phase, progress: snapshot.progress, message: 'cancel requested' };
  return snapshot;
}

/** Prints the outcome of every followed export. @returns 0 when all succeeded, 1 when any failed. */
function report(options: FollowOptions, snapshots: readonly ExportTaskSnapshot[], io: CommandIo): number {
  const succeeded = snapshots.filter((s) => s.phase === 'success').length;
  const failed = snapshots.length - succeeded;
  if (options.json) {
    const exports = snapshots.map((s) => ({
      exportId: s.exportId,
      phase: s.phase,
      status: s.attributes?.status ?? null,
      failureType: s.attributes?.failureType ?? null,
      exceptionName: s.attributes?.exceptionName ?? null,
      key: s.attributes?.key ?? s.attributes?.labels?.[3] ?? null,
    }));
    io.stdout.write(`${JSON.stringify({ type: 'summary', productId: options.productId, succeeded, failed, exports })}\n`);
  } else if (snapshots.length === 0) {
    io.stdout.write(`No exports of ${options.productId} are in flight.\n`);
  } else {
    const rows = snapshots.map((s) => [
      s.exportId,
      s.attributes?.status ?? s.phase,
      s.attributes?.failureType ?? '',
      s.attributes?.exceptionName ?? '',
      s.attributes?.key ?? '',
    ]);
    io.stdout.write(`\n${formatTable([{ header: 'export' }, { header: 'status' }, { header: 'failure' }, { header: 'exception' }, { header: 'key' }], rows)}\n`);
    io.stdout.write(`\n${succeeded} succeeded, ${failed} failed\n`);
  }
  return failed > 0 ? FAILED : 0;
}
