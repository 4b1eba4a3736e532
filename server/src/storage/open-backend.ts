import type { Config } from '../config.js';
import type { Backend } from './backend.js';
import { openPgBackend } from './pg-backend.js';
import { openSqliteBackend } from './sqlite-backend.js';

/** GRADWATCH_DATABASE_URL set: PostgreSQL; unset: the SQLite file in GRADWATCH_DATA_DIR. */
export async function openBackend(config: Config): Promise<Backend> {
  if (config.databaseUrl !== null) return openPgBackend(config.databaseUrl);
  return openSqliteBackend(config.dbFile, config.synchronous);
}
