import type { BackendEvent } from '../../client/backend.js';
import type { TaskEvent } from '../../core/events.js';
import type { EngineStore } from '../embedded/engine.js';

/** What the service's operations hear of the log: each event once it is appended. @internal */
export type EventObserver = (event: TaskEvent) => void;

/**
 * The store with its log telling `observe` of each event once the log has appended it
 * (`create`'s `queued`, then every `append`), so metrics and logs follow exports without the
 * engine knowing of them. Everything else goes to the log as it is. An observer that throws is
 * not the export's problem: its error is dropped.
 *
 * `onUnfinished` hears, first, of the exports an earlier run left queued or running, so the
 * gauges count them from the start.
 * @internal
 */
export function observeStore(
  store: EngineStore,
  observe: EventObserver,
  onUnfinished?: (exportId: string, phase: 'queued' | 'running') => void,
): EngineStore {
  const log = store.log;
  if (onUnfinished !== undefined) {
    for (const { record } of log.unfinished()) onUnfinished(record.exportId, record.phase === 'pending' ? 'queued' : 'running');
  }
  const tell = (appended: BackendEvent): BackendEvent => {
    try {
      observe(appended.event);
    } catch {
      // Metrics and logs must never fail an append that happened.
    }
    return appended;
  };
  const observed = new Proxy(log, {
    get(target, property) {
      if (property === 'create') return (...args: Parameters<typeof log.create>) => tell(target.create(...args));
      if (property === 'append') return (...args: Parameters<typeof log.append>) => tell(target.append(...args));
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { log: observed, catalog: store.catalog, close: () => store.close() };
}
