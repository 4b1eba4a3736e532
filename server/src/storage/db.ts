import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { MIGRATIONS_DIR } from '../paths.js';
import * as schema from './schema.js';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

/**
 * Opens the database in WAL mode. synchronous=FULL makes every commit durable across a power
 * loss, which is what an ack promises; NORMAL is offered as a documented trade for speed.
 */
export function openDb(file: string, synchronous: 'FULL' | 'NORMAL' = 'FULL'): Db {
  mkdirSync(dirname(file), { recursive: true });
  const sqlite = new Database(file);
  // Takes effect only for a new database: pages that hold a packed step row or chunk whole.
  sqlite.pragma('page_size = 16384');
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${synchronous}`);
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('cache_size = -16384');
  sqlite.pragma('temp_store = MEMORY');
  const db = drizzle(sqlite, { schema }) as Db;
  migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  return db;
}

const TRANSIENT = /SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|PROTOCOL)/;

/**
 * A database error worth a retry (busy, locked, disk full or read-only, I/O): the data was not
 * stored and may be sent again. Anything else is a fault to log.
 */
export function isTransientSqliteError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return TRANSIENT.test(typeof code === 'string' ? code : '') || TRANSIENT.test(e instanceof Error ? e.message : String(e));
}
