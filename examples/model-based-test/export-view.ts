/**
 * A small piece of an application: the view model of one export, without a UI framework. It
 * turns a task's snapshot into what a page shows (a line of text, a progress percentage, a
 * cancel button while the task runs, a download link once it has succeeded) and follows a task
 * live. `export-view.test.ts` tests it against every path of the task's machine and against
 * hostile deliveries and races, with `export-task/testing`.
 */
import type { ExportTask, ExportTaskSnapshot } from 'export-task';

/** What the page shows for one export. */
export interface ExportView {
  /** One line for the user: the phase in words, with the progress or the failure. */
  readonly text: string;
  /** Whole percent, 0 to 100. */
  readonly percent: number;
  /** Whether a cancel button is offered (not once the task is final, nor twice). */
  readonly canCancel: boolean;
  /** The download link, offered only once the export has succeeded. */
  readonly download: { readonly key: string; readonly label: string } | null;
}

const FAILURES: Readonly<Record<string, string>> = {
  cancelled: 'Cancelled',
  oom: 'Ran out of memory',
  timeout: 'Took too long',
  exception: 'Failed with an error',
};

function size(bytes: number | null): string {
  if (bytes === null) return 'unknown size';
  return bytes < 1024 ? `${bytes} B` : bytes < 1024 ** 2 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/** The view of a task in the state `snapshot` describes. */
export function renderExport(snapshot: ExportTaskSnapshot): ExportView {
  const percent = Math.floor(snapshot.progress * 100);
  const a = snapshot.attributes;
  switch (snapshot.phase) {
    case 'pending':
      return { text: snapshot.cancelRequested ? 'Queued (cancelling)' : 'Queued', percent, canCancel: !snapshot.cancelRequested, download: null };
    case 'running':
      return {
        text: `${snapshot.cancelRequested ? 'Cancelling' : 'Running'}: ${percent}%${snapshot.message === null ? '' : ` (${snapshot.message})`}`,
        percent,
        canCancel: !snapshot.cancelRequested,
        download: null,
      };
    case 'success':
      return {
        text: `Done: ${size(a?.sizeBytes ?? null)}`,
        percent: 100,
        canCancel: false,
        download: a?.key == null ? null : { key: a.key, label: `Download ${a.key.split('/').at(-1)!}` },
      };
    case 'failure': {
      const reason = FAILURES[a?.failureType ?? ''] ?? `Failed (${a?.failureType ?? 'unknown reason'})`;
      return { text: a?.exceptionName == null ? reason : `${reason}: ${a.exceptionName}`, percent, canCancel: false, download: null };
    }
  }
}

/**
 * Follows a task: calls `onView` with its view now and at each change.
 * @returns A function that stops following.
 */
export function followExport(task: ExportTask, onView: (view: ExportView) => void): () => void {
  const subscription = task.state$.subscribe((snapshot) => onView(renderExport(snapshot)));
  return () => subscription.unsubscribe();
}
