/**
 * The alternative to per-task routing a user would write with RxJS alone: every subscriber
 * filters the one stream of all changes for its own task. Each event then runs every
 * subscriber's predicate: O(N) per event.
 */
import { filter, type Observable, type Subscription } from 'rxjs';
import type { ExportTaskSnapshot } from '../../src/core/snapshot.js';

export function subscribeFiltered(
  changes$: Observable<ExportTaskSnapshot>,
  exportId: string,
  next: (snapshot: ExportTaskSnapshot) => void,
): Subscription {
  return changes$.pipe(filter((snapshot) => snapshot.exportId === exportId)).subscribe(next);
}
