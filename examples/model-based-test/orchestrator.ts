/**
 * An export orchestrator, the kind of workflow an application builds on export-task: one export
 * per product, a retry (once) of an export that failed for the service's own reasons
 * (`internal`), a time budget past which a running export is cancelled, an aggregate progress
 * as an observable, and the download of what succeeded. `orchestrator.test.ts` tests it with
 * the testing kit: simulated jobs, hostile delivery to the client, and the lifecycle commands.
 *
 * `bugs` plants three realistic mistakes, one at a time, so that the tests can show that each
 * is found by the tool meant for it. The orchestrator is correct with no bug planted.
 */
import { BehaviorSubject, type Observable } from 'rxjs';
import type { ExportClient, ExportTask, ExportTaskSnapshot } from 'export-task';

/** The mistakes `orchestrate()` can be made to have, for the tests of the kit. */
export interface PlantedBugs {
  /** Counts attempts per export instead of per product: a retry that fails `internal` again is retried again. */
  readonly retryForever?: boolean;
  /** Aggregates the current attempt's progress only: it goes back to 0 when a retry starts. */
  readonly progressBackwards?: boolean;
  /** Re-sends the cancel of an export over budget on an interval that its end never clears. */
  readonly leakRecancel?: boolean;
}

/** Options of {@link orchestrate}. */
export interface OrchestratorOptions {
  /** The products to export, one export each. */
  readonly products: readonly string[];
  /** How long an export may run before it is cancelled, ms. */
  readonly budgetMs: number;
  /** How often an unanswered cancel is re-sent, ms. */
  readonly recancelMs?: number;
  /** The mistakes to plant (tests only). */
  readonly bugs?: PlantedBugs;
}

/** What happened to one product. */
export interface ProductOutcome {
  readonly product: string;
  /** The exports started for it, in order (two when it was retried). */
  readonly exportIds: readonly string[];
  /** How its last export ended. */
  readonly final: ExportTaskSnapshot;
  /** The downloaded file, when its last export succeeded. */
  readonly contents: string | null;
}

/** A running orchestration. */
export interface Orchestration {
  /** The mean progress over the products, 0 to 1, never going back (without the planted bug). */
  readonly progress$: Observable<number>;
  /** Every product's outcome, once all are final. */
  readonly done: Promise<readonly ProductOutcome[]>;
  /** The ids of every export started so far. */
  exportIds(): string[];
}

async function download(task: ExportTask): Promise<string> {
  const chunks: Uint8Array[] = [];
  await task.getFile(new WritableStream<Uint8Array>({ write: (chunk) => void chunks.push(chunk) }));
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/** Starts one export per product and sees each through to its end, as the module header says. */
export function orchestrate(client: ExportClient, options: OrchestratorOptions): Orchestration {
  const bugs = options.bugs ?? {};
  const started: string[] = [];
  const progress = new Map<string, number>();
  const progress$ = new BehaviorSubject(0);
  const publish = (): void => {
    let sum = 0;
    for (const value of progress.values()) sum += value;
    const mean = options.products.length === 0 ? 1 : sum / options.products.length;
    progress$.next(bugs.progressBackwards === true ? mean : Math.max(progress$.value, mean));
  };

  const runAttempt = async (product: string, attempt: number, ids: string[]): Promise<ProductOutcome> => {
    const collection = client.featureCollection(product);
    const task = await collection.export(`exports/${product}-${attempt}.ndjson`);
    started.push(task.exportId);
    ids.push(task.exportId);
    // A retry starts where the failed attempt stood; it moves the product on once it passes it.
    const floor = progress.get(product) ?? 0;
    const subscription = task.state$.subscribe({
      next: (snapshot) => {
        const value = snapshot.phase === 'success' || snapshot.phase === 'failure' ? 1 : snapshot.progress;
        progress.set(product, bugs.progressBackwards === true ? value : Math.max(floor, value));
        publish();
      },
      // The client closed or the export was lost: getResult below rejects with the same error.
      error: () => undefined,
    });
    let recancel: ReturnType<typeof setInterval> | undefined;
    const budget = setTimeout(() => {
      void task.cancel().catch(() => undefined);
      recancel = setInterval(() => void task.cancel().catch(() => undefined), options.recancelMs ?? 20);
    }, options.budgetMs);
    try {
      await task.getResult({ wait: true });
    } finally {
      subscription.unsubscribe();
      clearTimeout(budget);
      if (bugs.leakRecancel !== true && recancel !== undefined) clearInterval(recancel);
    }
    const final = task.snapshot;
    // The planted bug counts each export's attempts alone, so every retry is a first attempt.
    const attempts = bugs.retryForever === true ? 1 : attempt;
    if (final.attributes?.failureType === 'internal' && attempts < 2) return runAttempt(product, attempt + 1, ids);
    const contents = final.phase === 'success' ? await download(task) : null;
    return { product, exportIds: ids, final, contents };
  };

  const done = Promise.all(options.products.map((product) => runAttempt(product, 1, []))).finally(() => {
    publish();
    progress$.complete();
  });
  return { progress$: progress$.asObservable(), done, exportIds: () => [...started] };
}
