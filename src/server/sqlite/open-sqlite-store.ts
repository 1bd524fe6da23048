import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EngineStore } from '../embedded/engine.js';
import { migrate } from './sqlite-schema.js';
import { SqliteExportLog } from './sqlite-export-log.js';
import { SqliteProductCatalog } from './sqlite-product-catalog.js';

/** The database's file name in the data directory. @internal */
export const DATABASE_FILE = 'export-task.sqlite';
/** The file whose lock says that a service owns the data directory. @internal */
export const LOCK_FILE = 'export-task.lock';

/** Options of {@link openSqliteStore}. @internal */
export interface SqliteStoreOptions {
  /** Called with the open database before the store uses it (tests set `max_page_count` to fill it). */
  readonly configure?: ((db: Database.Database) => void) | undefined;
}

/**
 * Opens (and creates) the server's store in `dataDir`: `export-task.sqlite` in WAL mode.
 *
 * Only one service may use a data directory at a time (a second one would settle the first
 * one's running exports as interrupted): `export-task.lock`, a tiny SQLite database in
 * exclusive locking mode, is held for as long as the store is open. The operating system
 * releases it when the process dies, so a killed service never blocks its successor. The main
 * database stays in normal locking mode, so other processes can read it (`sqlite3`, backups).
 *
 * `synchronous = NORMAL`: a committed event survives the process being killed at any moment;
 * an operating system crash or power loss may lose the last few.
 * @throws Error when another service holds the directory, or the database is of another version.
 * @internal
 */
export function openSqliteStore(dataDir: string, options: SqliteStoreOptions = {}): EngineStore {
  const lock = acquireLock(dataDir);
  let db: Database.Database | undefined;
  try {
    const path = join(dataDir, DATABASE_FILE);
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, path);
    options.configure?.(db);
    const store = db;
    return {
      log: new SqliteExportLog(store),
      catalog: new SqliteProductCatalog(store),
      close: () => {
        store.close();
        lock.close();
      },
    };
  } catch (error) {
    db?.close();
    lock.close();
    throw error;
  }
}

function acquireLock(dataDir: string): Database.Database {
  const lock = new Database(join(dataDir, LOCK_FILE), { timeout: 0 });
  try {
    // In exclusive locking mode the lock taken by the first write is kept until the connection
    // closes. What the file holds does not matter: no journal file is needed for it.
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.pragma('journal_mode = MEMORY');
    lock.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS owner (pid INTEGER NOT NULL) STRICT; DELETE FROM owner;');
    lock.prepare('INSERT INTO owner (pid) VALUES (?)').run(process.pid);
    lock.exec('COMMIT');
    return lock;
  } catch (error) {
    lock.close();
    if ((error as { code?: unknown }).code === 'SQLITE_BUSY') {
      throw new Error(
        `Another export service is using the data directory ${dataDir}: stop it first, or start this one on another directory`,
      );
    }
    throw error;
  }
}
