import type { Database, Statement } from 'better-sqlite3';
import type { BackendEvent } from '../../client/backend.js';
import type { TaskEvent } from '../../core/events.js';
import type { CheckedExportRequest } from '../embedded/check-export-request.js';
import { AppendListeners } from '../embedded/export-log.js';
import type { ExportLog, StoredExport } from '../embedded/export-log.js';
import { ExportRecord } from '../embedded/export-record.js';
import type { EventBody, ExportRecordState } from '../embedded/export-record.js';

interface StateRow {
  readonly product_id: string;
  readonly state: string;
}

interface EventRow {
  readonly id: number;
  readonly body: string;
}

interface UnfinishedRow {
  readonly request: string;
  readonly state: string;
}

/**
 * The HTTP server's {@link ExportLog}, in SQLite: the `events` table is the log (its
 * AUTOINCREMENT id, one counter for every product, is the cursor), the `exports` table the
 * projection (each export's fold, written in the same transaction as each of its events), and
 * `idempotency_keys` the keys given to `startExport`. Appends are transactions of the one
 * connection this process holds; subscribers are told in this process.
 * @internal
 */
export class SqliteExportLog implements ExportLog {
  readonly durable = true;
  readonly #listeners = new AppendListeners();
  readonly #lastId: { value: number };
  readonly #exportIdFor: Statement<[string, string], string>;
  readonly #insertExport: Statement<[string, string, string]>;
  readonly #insertKey: Statement<[string, string, string]>;
  readonly #state: Statement<[string], StateRow>;
  readonly #insertEvent: Statement<[string, string, number, string, string]>;
  readonly #updateExport: Statement<[number, number, string, string]>;
  readonly #listFinal: Statement<[string, number, number], string>;
  readonly #readProduct: Statement<[string, number, number], EventRow>;
  readonly #readExport: Statement<[string, string, number, number], EventRow>;
  readonly #unfinished: Statement<[], UnfinishedRow>;
  readonly #create: (productId: string, exportId: string, request: CheckedExportRequest, idempotencyKey: string | undefined) => BackendEvent;
  readonly #append: (productId: string, exportId: string, body: EventBody) => BackendEvent;

  constructor(db: Database) {
    this.#lastId = { value: (db.prepare('SELECT coalesce(max(id), 0) FROM events').pluck().get() as number | undefined) ?? 0 };
    this.#exportIdFor = db.prepare<[string, string], string>('SELECT export_id FROM idempotency_keys WHERE product_id = ? AND key = ?').pluck();
    this.#insertExport = db.prepare<[string, string, string]>(
      "INSERT INTO exports (export_id, product_id, request, seq, final, state) VALUES (?, ?, ?, 0, 0, '{}')",
    );
    this.#insertKey = db.prepare<[string, string, string]>('INSERT INTO idempotency_keys (product_id, key, export_id) VALUES (?, ?, ?)');
    this.#state = db.prepare<[string], StateRow>('SELECT product_id, state FROM exports WHERE export_id = ?');
    this.#insertEvent = db.prepare<[string, string, number, string, string]>(
      'INSERT INTO events (product_id, export_id, seq, type, body) VALUES (?, ?, ?, ?, ?)',
    );
    this.#updateExport = db.prepare<[number, number, string, string]>('UPDATE exports SET seq = ?, final = ?, state = ? WHERE export_id = ?');
    this.#listFinal = db
      .prepare<[string, number, number], string>('SELECT state FROM exports WHERE product_id = ? AND final = 1 AND ordinal > ? ORDER BY ordinal LIMIT ?')
      .pluck();
    this.#readProduct = db.prepare<[string, number, number], EventRow>('SELECT id, body FROM events WHERE product_id = ? AND id > ? ORDER BY id LIMIT ?');
    this.#readExport = db.prepare<[string, string, number, number], EventRow>(
      'SELECT id, body FROM events WHERE export_id = ? AND product_id = ? AND id > ? ORDER BY seq LIMIT ?',
    );
    this.#unfinished = db.prepare<[], UnfinishedRow>('SELECT request, state FROM exports WHERE final = 0 ORDER BY ordinal');

    const appendTo = (record: ExportRecord, body: EventBody): BackendEvent => {
      const event: TaskEvent = record.next(body);
      const { lastInsertRowid } = this.#insertEvent.run(record.productId, record.exportId, event.seq, event.type, JSON.stringify(event));
      this.#updateExport.run(record.seq, record.final ? 1 : 0, JSON.stringify(record.state()), record.exportId);
      return { cursor: String(lastInsertRowid), event };
    };
    this.#create = db.transaction((productId: string, exportId: string, request: CheckedExportRequest, idempotencyKey: string | undefined) => {
      const { lastInsertRowid } = this.#insertExport.run(exportId, productId, JSON.stringify(request));
      if (idempotencyKey !== undefined) this.#insertKey.run(productId, idempotencyKey, exportId);
      return appendTo(new ExportRecord(productId, exportId, request.key, Number(lastInsertRowid)), { type: 'queued' });
    });
    this.#append = db.transaction((productId: string, exportId: string, body: EventBody) => {
      const record = this.#read(productId, exportId);
      if (record === undefined) throw new Error(`No export ${exportId} in product ${productId} to append to`);
      return appendTo(record, body);
    });
  }

  exportIdFor(productId: string, idempotencyKey: string): string | undefined {
    return this.#exportIdFor.get(productId, idempotencyKey);
  }

  create(productId: string, exportId: string, request: CheckedExportRequest, idempotencyKey: string | undefined): BackendEvent {
    return this.#appended(productId, this.#create(productId, exportId, request, idempotencyKey));
  }

  append(productId: string, exportId: string, body: EventBody): BackendEvent {
    return this.#appended(productId, this.#append(productId, exportId, body));
  }

  get(productId: string, exportId: string): ExportRecord | undefined {
    return this.#read(productId, exportId);
  }

  listFinal(productId: string, afterOrdinal: number, limit: number): ExportRecord[] {
    return this.#listFinal.all(productId, afterOrdinal, limit).map((state) => ExportRecord.fromState(JSON.parse(state) as ExportRecordState));
  }

  read(productId: string, after: number, limit: number, exportId?: string): BackendEvent[] {
    const rows = exportId === undefined ? this.#readProduct.all(productId, after, limit) : this.#readExport.all(exportId, productId, after, limit);
    return rows.map((row) => ({ cursor: String(row.id), event: JSON.parse(row.body) as TaskEvent }));
  }

  lastCursor(_productId: string): number {
    // One counter for every product: any cursor it gave is a valid place in any product's events.
    return this.#lastId.value;
  }

  subscribe(productId: string, listener: () => void): () => void {
    return this.#listeners.add(productId, listener);
  }

  unfinished(): StoredExport[] {
    return this.#unfinished.all().map((row) => ({
      record: ExportRecord.fromState(JSON.parse(row.state) as ExportRecordState),
      request: JSON.parse(row.request) as CheckedExportRequest,
    }));
  }

  close(): void {
    this.#listeners.clear();
  }

  #read(productId: string, exportId: string): ExportRecord | undefined {
    const row = this.#state.get(exportId);
    return row === undefined || row.product_id !== productId ? undefined : ExportRecord.fromState(JSON.parse(row.state) as ExportRecordState);
  }

  /** After the transaction committed: the cursor moves on and the product's subscribers are told. */
  #appended(productId: string, appended: BackendEvent): BackendEvent {
    this.#lastId.value = Number(appended.cursor);
    this.#listeners.notify(productId);
    return appended;
  }
}
