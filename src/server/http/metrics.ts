import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { TaskEvent } from '../../core/events.js';

/** The prefix of every metric of the service. @internal */
export const METRIC_PREFIX = 'export_task_';

/** How long HTTP requests take, seconds (an event stream counts until its headers are sent). */
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** How long export jobs run, seconds. */
const JOB_DURATION_BUCKETS = [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14_400];
/** How much heap export jobs use at most, bytes: 1 MiB to 16 GiB by fours. */
const JOB_MEMORY_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16_384].map((mib) => mib * 1024 * 1024);

/** A value the metrics read when scraped. */
export type Reading = () => number | Promise<number>;

/** What an export's phase is, as the in-process gauges count it. */
type ActivePhase = 'queued' | 'running';

/**
 * The service's Prometheus metrics, in a registry of its own (two services in one process
 * count apart). Requests are counted by the app's `onResponse` hook, export events by the
 * store they are appended to ({@link ServiceMetrics.onEvent}), and what is true at a moment
 * (exports running and queued, open event streams, Redis) is read at each scrape.
 * @internal
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'method' | 'route' | 'status'>;
  readonly #requestSeconds: Histogram<'method' | 'route' | 'status'>;
  readonly #exportsStarted: Counter;
  readonly #jobsStarted: Counter;
  readonly #exportsEnded: Counter<'outcome' | 'failure_type'>;
  readonly #jobSeconds: Histogram<'outcome'>;
  readonly #jobMemory: Histogram<'outcome'>;
  readonly #eventsAppended: Counter<'type'>;
  /** The exports this process saw queued or running, for the gauges of the service of one machine. */
  readonly #active = new Map<string, ActivePhase>();
  /**
   * Whether {@link ServiceMetrics.onEvent} follows each export's phase in `#active`: only where
   * this process appends every event of its exports (the service of one machine). An API
   * instance over Redis appends `queued` but its workers append the ends, so following there
   * kept every export it ever queued (issue 23's soak: about 100 bytes an export).
   */
  #followsPhases = false;

  constructor() {
    const registers = [this.registry];
    this.#requests = new Counter({
      name: `${METRIC_PREFIX}http_requests_total`,
      help: 'HTTP requests answered, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.#requestSeconds = new Histogram({
      name: `${METRIC_PREFIX}http_request_duration_seconds`,
      help: 'How long HTTP requests took to answer, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.#exportsStarted = new Counter({ name: `${METRIC_PREFIX}exports_started_total`, help: 'Exports started (accepted and queued).', registers });
    this.#jobsStarted = new Counter({ name: `${METRIC_PREFIX}jobs_started_total`, help: 'Export jobs that began to run.', registers });
    this.#exportsEnded = new Counter({
      name: `${METRIC_PREFIX}exports_ended_total`,
      help: 'Exports that ended, by outcome (succeeded, failed) and failure type (none when succeeded).',
      labelNames: ['outcome', 'failure_type'],
      registers,
    });
    this.#jobSeconds = new Histogram({
      name: `${METRIC_PREFIX}job_duration_seconds`,
      help: 'How long the jobs of ended exports ran, by outcome.',
      labelNames: ['outcome'],
      buckets: JOB_DURATION_BUCKETS,
      registers,
    });
    this.#jobMemory = new Histogram({
      name: `${METRIC_PREFIX}job_peak_memory_bytes`,
      help: 'The most heap the jobs of ended exports used, by outcome.',
      labelNames: ['outcome'],
      buckets: JOB_MEMORY_BUCKETS,
      registers,
    });
    this.#eventsAppended = new Counter({
      name: `${METRIC_PREFIX}events_appended_total`,
      help: 'Export events appended to the log, by type.',
      labelNames: ['type'],
      registers,
    });
    this.gauge('process_resident_memory_bytes', 'Resident memory of this process.', () => process.memoryUsage().rss);
    this.gauge('process_heap_used_bytes', 'V8 heap used by this process.', () => process.memoryUsage().heapUsed);
  }

  /** Counts an answered request: `route` is the route's pattern (never the URL, whose ids would make one series each). */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.#requests.inc(labels);
    this.#requestSeconds.observe(labels, seconds);
  }

  /** Counts an event appended to the log, and follows the export's phase. */
  onEvent(event: TaskEvent): void {
    this.#eventsAppended.inc({ type: event.type });
    switch (event.type) {
      case 'queued':
        this.#exportsStarted.inc();
        if (this.#followsPhases) this.#active.set(event.export_id, 'queued');
        break;
      case 'started':
        this.#jobsStarted.inc();
        if (this.#followsPhases) this.#active.set(event.export_id, 'running');
        break;
      case 'succeeded':
      case 'failed': {
        const outcome = event.type;
        this.#exportsEnded.inc({ outcome, failure_type: event.type === 'failed' ? (event.failure_type ?? 'unknown') : 'none' });
        if (event.runtime !== null) this.#jobSeconds.observe({ outcome }, event.runtime);
        if (event.peak_memory_usage !== null) this.#jobMemory.observe({ outcome }, event.peak_memory_usage);
        this.#active.delete(event.export_id);
        break;
      }
      default:
        break;
    }
  }

  /**
   * Counts the exports queued and running in this process from their events, for
   * {@link ServiceMetrics.countActive}: only for a process that appends every event of its
   * exports, their ends included (a Redis API instance does not: its workers end them).
   */
  followPhases(): void {
    this.#followsPhases = true;
  }

  /** Starts following an export that was queued or running before this process began (a restart). */
  trackActive(exportId: string, phase: ActivePhase): void {
    this.followPhases();
    this.#active.set(exportId, phase);
  }

  /** How many of the exports this process follows are in `phase`. */
  countActive(phase: ActivePhase): number {
    let n = 0;
    for (const p of this.#active.values()) if (p === phase) n++;
    return n;
  }

  /** A gauge read at each scrape: `name` without the prefix. */
  gauge(name: string, help: string, read: Reading): void {
    new Gauge({
      name: `${METRIC_PREFIX}${name}`,
      help,
      registers: [this.registry],
      async collect() {
        this.set(await read());
      },
    });
  }

  /** A counter whose total is read at each scrape (one kept elsewhere, as the event streams' count of events written). */
  counter(name: string, help: string, read: () => number): void {
    new Counter({
      name: `${METRIC_PREFIX}${name}`,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The content type of {@link ServiceMetrics.text}. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
