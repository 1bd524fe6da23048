import { createServiceLogger, logExportEvent, type LoggerOptions, type ServiceLogger } from './logging.js';
import { ServiceMetrics } from './metrics.js';
import type { EventObserver } from './observed-store.js';
import type { ReadinessCheck } from './ops-routes.js';

/**
 * What a process of the service (an API instance or a worker) operates with: its logger, its
 * metrics, what it does with each export event appended (count it, log its start and end),
 * and the checks of its `/ready`.
 * @internal
 */
export interface ServiceOps {
  /** None when logging is off. */
  readonly logger: ServiceLogger | undefined;
  readonly metrics: ServiceMetrics;
  readonly onEvent: EventObserver;
  readonly checks: ReadinessCheck[];
}

/** The logger (when `logger` is given), metrics, and no readiness check yet. @internal */
export function createServiceOps(logger: LoggerOptions | undefined): ServiceOps {
  const metrics = new ServiceMetrics();
  const log = logger === undefined ? undefined : createServiceLogger(logger);
  return {
    logger: log,
    metrics,
    onEvent: (event) => {
      // Metrics and logs must never fail an append that happened.
      try {
        metrics.onEvent(event);
        if (log !== undefined) logExportEvent(log, event);
      } catch {
        // Nothing to do: the event is in the log all the same.
      }
    },
    checks: [],
  };
}
