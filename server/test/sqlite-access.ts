import type Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import type { SqliteBackend } from '../src/storage/sqlite-backend.js';

/** The SQLite connection under a test server, for tests that inspect or poison the file itself. */
export function sqliteOf(app: FastifyInstance): Database.Database {
  if (app.backend.kind !== 'sqlite') throw new Error('this test reads the SQLite file directly; it runs on the SQLite backend only');
  return (app.backend as SqliteBackend).db.$client;
}
