import { SqliteAlertsRepo } from '../alerts/alerts.repo.js';
import { createSqlitePointStore } from '../points/sqlite-point-store.js';
import { SqliteProjectsRepo } from '../projects/projects.repo.js';
import { SqliteRunsRepo } from '../runs/runs.repo.js';
import { SqliteTokensRepo } from '../tokens/tokens.repo.js';
import { SqliteWebhooksRepo } from '../webhooks/webhooks.repo.js';
import type { Backend } from './backend.js';
import { isTransientSqliteError, openDb, type Db } from './db.js';
import { sqliteTransactors } from './sqlite-transact.js';

/** The embedded default: one SQLite file in WAL mode, written by this process alone. */
export interface SqliteBackend extends Backend {
  readonly kind: 'sqlite';
  /** The drizzle handle, for SQLite-only tools (backup, tests that inspect the file). */
  readonly db: Db;
}

export function openSqliteBackend(file: string, synchronous: 'FULL' | 'NORMAL' = 'FULL'): SqliteBackend {
  const db = openDb(file, synchronous);
  const c = db.$client;
  return {
    kind: 'sqlite',
    shared: false,
    db,
    repos: {
      projects: new SqliteProjectsRepo(db),
      runs: new SqliteRunsRepo(db),
      alerts: new SqliteAlertsRepo(db),
      webhooks: new SqliteWebhooksRepo(db),
      tokens: new SqliteTokensRepo(db),
      points: createSqlitePointStore(db),
    },
    ...sqliteTransactors(c),
    inTransaction: () => c.inTransaction,
    isTransient: isTransientSqliteError,
    // One server per file: nothing to tell another, nobody to share a job with.
    notices: null,
    exclusive: (_name, fn) => fn(),
    ping: async () => {
      c.prepare('SELECT 1').get();
    },
    close: async () => {
      c.close();
    },
  };
}
