import type { Database } from 'better-sqlite3';

/** The schema version this code reads and writes (SQLite's `user_version`). @internal */
export const SCHEMA_VERSION = 1;

/**
 * The tables. `events` is the log: append-only (triggers refuse updates and deletes), its
 * AUTOINCREMENT id the cursor, so ids are never reused, even after a restart. `exports` is
 * the projection the routes read: each export's fold (`state`, JSON), updated in the same
 * transaction as each event of it is appended. One export's events are found through the
 * UNIQUE (export_id, seq) index, in seq order, which is their order in the log. `products` holds what the features files do
 * not (title, counts, the committed length of the file).
 */
const SCHEMA = `
CREATE TABLE products (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  feature_count INTEGER NOT NULL,
  byte_length INTEGER NOT NULL
) STRICT;

CREATE TABLE exports (
  ordinal INTEGER PRIMARY KEY AUTOINCREMENT,
  export_id TEXT NOT NULL UNIQUE,
  product_id TEXT NOT NULL REFERENCES products (id),
  request TEXT NOT NULL,
  seq INTEGER NOT NULL,
  final INTEGER NOT NULL,
  state TEXT NOT NULL
) STRICT;
CREATE INDEX exports_final_by_product ON exports (product_id, final, ordinal);
CREATE INDEX exports_unfinished ON exports (ordinal) WHERE final = 0;

CREATE TABLE idempotency_keys (
  product_id TEXT NOT NULL,
  key TEXT NOT NULL,
  export_id TEXT NOT NULL REFERENCES exports (export_id),
  PRIMARY KEY (product_id, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  product_id TEXT NOT NULL,
  export_id TEXT NOT NULL REFERENCES exports (export_id),
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL,
  UNIQUE (export_id, seq)
) STRICT;
CREATE INDEX events_by_product ON events (product_id, id);
CREATE TRIGGER events_are_not_updated BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_are_not_deleted BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
`;

/**
 * Creates the tables in a new database, or checks that an existing one has this version.
 * @throws Error for a database of another version.
 * @internal
 */
export function migrate(db: Database, path: string): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version === SCHEMA_VERSION) return;
    if (version !== 0) {
      throw new Error(
        `The database ${path} has schema version ${version}, this export service reads version ${SCHEMA_VERSION}: ` +
          'run the version of export-task that wrote it, or start on another data directory',
      );
    }
    db.exec(SCHEMA);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
