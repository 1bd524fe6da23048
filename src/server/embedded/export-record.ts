import type { SnapshotEvent, TaskEvent, TaskEventBase, TaskPhase, WireAttributes } from '../../core/events.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An event as the service makes it, before it gets its ids, `seq` and `time`. @internal */
export type EventBody = DistributiveOmit<Exclude<TaskEvent, SnapshotEvent>, keyof TaskEventBase>;

/** What an {@link ExportRecord} holds, as plain JSON: what a durable log stores for each export. @internal */
export interface ExportRecordState {
  readonly productId: string;
  readonly exportId: string;
  readonly key: string;
  readonly ordinal: number;
  readonly seq: number;
  readonly phase: TaskPhase;
  readonly progress: number;
  readonly message: string | null;
  readonly log: readonly string[];
  readonly cancelRequested: boolean;
  readonly created: string | null;
  readonly attributes: WireAttributes | null;
}

/**
 * One export as the service knows it: the fold of the events it emitted for it. It numbers
 * them (`seq` 1, 2, 3, ... without gaps) and keeps what a `snapshot` event needs.
 * @internal
 */
export class ExportRecord {
  readonly productId: string;
  readonly exportId: string;
  readonly key: string;
  readonly labels: readonly string[];
  /** Its rank among the product's exports in order of creation (increasing, not always by 1). */
  readonly ordinal: number;
  seq = 0;
  phase: TaskPhase = 'pending';
  progress = 0;
  message: string | null = null;
  readonly log: string[] = [];
  cancelRequested = false;
  created: string | null = null;
  attributes: WireAttributes | null = null;

  constructor(productId: string, exportId: string, key: string, ordinal: number) {
    this.productId = productId;
    this.exportId = exportId;
    this.key = key;
    this.ordinal = ordinal;
    // DL's labels; index 3 is the key.
    this.labels = [productId, exportId, 'export', key];
  }

  /** The record a {@link ExportRecord.state} was taken from. */
  static fromState(state: ExportRecordState): ExportRecord {
    const record = new ExportRecord(state.productId, state.exportId, state.key, state.ordinal);
    record.seq = state.seq;
    record.phase = state.phase;
    record.progress = state.progress;
    record.message = state.message;
    record.log.push(...state.log);
    record.cancelRequested = state.cancelRequested;
    record.created = state.created;
    record.attributes = state.attributes;
    return record;
  }

  /** Everything the record holds, as plain JSON. */
  state(): ExportRecordState {
    return {
      productId: this.productId,
      exportId: this.exportId,
      key: this.key,
      ordinal: this.ordinal,
      seq: this.seq,
      phase: this.phase,
      progress: this.progress,
      message: this.message,
      log: [...this.log],
      cancelRequested: this.cancelRequested,
      created: this.created,
      attributes: this.attributes,
    };
  }

  get final(): boolean {
    return this.phase === 'success' || this.phase === 'failure';
  }

  /**
   * Where DL's Storage API serves this export's log (`GET /storage/v1/logs/get/{result_key}`):
   * `{product_id}/{export_id}`, both of URL-safe characters, so a client may put it in a URL as
   * it is (DL's did).
   */
  get resultKey(): string {
    return `${this.productId}/${this.exportId}`;
  }

  /** The log as DL's Storage API served it: its lines joined by "\n" (empty when it has none). */
  logText(): string {
    return this.log.join('\n');
  }

  /** Makes the next event of this export and folds it in. */
  next(body: EventBody): TaskEvent {
    const time = new Date().toISOString();
    const { type, ...fields } = body;
    const event = { type, product_id: this.productId, export_id: this.exportId, seq: ++this.seq, time, ...fields } as TaskEvent;
    this.#apply(event, time);
    return event;
  }

  /** The export's whole state as a `snapshot` event at its latest `seq`. */
  snapshot(): SnapshotEvent {
    return {
      type: 'snapshot',
      product_id: this.productId,
      export_id: this.exportId,
      seq: this.seq,
      time: new Date().toISOString(),
      phase: this.phase,
      progress: this.progress,
      attributes: this.attributes,
      log: [...this.log],
      message: this.message,
      cancel_requested: this.cancelRequested,
      created: this.created,
    };
  }

  #apply(event: TaskEvent, time: string): void {
    switch (event.type) {
      case 'queued':
        this.created = time;
        break;
      case 'started':
        this.phase = 'running';
        break;
      case 'progress':
        this.progress = Math.max(this.progress, event.fraction);
        if (event.message !== undefined) this.message = event.message;
        break;
      case 'log':
        this.log.push(event.line);
        break;
      case 'cancel_requested':
        this.cancelRequested = true;
        break;
      case 'succeeded':
        this.phase = 'success';
        this.progress = 1;
        this.attributes = {
          created: this.created,
          status: 'SUCCESS',
          failure_type: null,
          exception_name: null,
          stacktrace: null,
          peak_memory_usage: event.peak_memory_usage,
          runtime: event.runtime,
          labels: event.labels,
          key: event.key,
          size_bytes: event.size_bytes,
          sha256: event.sha256,
        };
        break;
      case 'failed':
        this.phase = 'failure';
        this.attributes = {
          created: this.created,
          status: 'FAILURE',
          failure_type: event.failure_type,
          exception_name: event.exception_name,
          stacktrace: event.stacktrace,
          peak_memory_usage: event.peak_memory_usage,
          runtime: event.runtime,
          labels: event.labels ?? this.labels,
          key: event.key ?? this.key,
          size_bytes: null,
          sha256: null,
        };
        break;
      case 'snapshot':
        break;
    }
  }
}
