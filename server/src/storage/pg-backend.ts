import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { PgAlertsRepo } from '../alerts/alerts.pg.repo.js';
import { MIGRATIONS_PG_DIR } from '../paths.js';
import { createPgPointStore } from '../points/pg-point-store.js';
import { PgProjectsRepo } from '../projects/projects.pg.repo.js';
import { PgRunsRepo } from '../runs/runs.pg.repo.js';
import { PgTokensRepo } from '../tokens/tokens.pg.repo.js';
import { PgWebhooksRepo } from '../webhooks/webhooks.pg.repo.js';
import { StoreUnavailable, type Backend } from './backend.js';
import { PgNotices } from './pg-notices.js';
import { isTransientPgError, PgDb, redactUrl } from './pg.js';

export interface PgBackendOptions {
  /** Connections in the pool (default 10). */
  max?: number;
}

/** PostgreSQL, shared by several servers: runs are leased (runs.owner, lease_epoch). */
export interface PgBackend extends Backend {
  readonly kind: 'postgres';
  /** The pool, for PostgreSQL-only tools and tests. */
  readonly db: PgDb;
}

/** The key every gradwatch server takes the migration lock under (any int8 will do; "gwmg"). */
const MIGRATION_LOCK = 0x67776d67;

/** An error's message, with the URL's password taken out should the driver ever echo it. */
function reason(e: unknown, url: string): string {
  const msg = e instanceof Error ? e.message : String(e);
  let password = '';
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    // An unparseable URL: postgres.js has failed on it already, the message names no password.
  }
  // A very short password would garble the message more than it hides.
  return password.length >= 4 ? msg.split(password).join('***') : msg;
}

/**
 * Brings the schema up to date: servers starting together take turns on a session-level
 * advisory lock, and the second finds the migrations applied. The lock belongs to a session,
 * so this runs on a client of its own holding one connection (max 1) that takes the lock,
 * migrates and unlocks; sql.reserve() cannot carry drizzle's migrator (a reserved connection
 * has no begin()). The client has no camelCase transform either: the migrator reads its own
 * table's created_at column by that name.
 */
async function applyMigrations(url: string, migrationsFolder: string): Promise<void> {
  const sql = postgres(url, { max: 1, connect_timeout: 10, onnotice: () => undefined });
  try {
    try {
      await sql`SELECT 1`;
    } catch (e) {
      throw new StoreUnavailable(`cannot reach PostgreSQL at ${redactUrl(url)}: ${reason(e, url)}`, { cause: e });
    }
    try {
      await sql`SELECT pg_advisory_lock(${MIGRATION_LOCK}::int8)`;
      try {
        await migrate(drizzle(sql), { migrationsFolder });
      } finally {
        // Were the connection lost, the server has dropped the lock with the session already.
        await sql`SELECT pg_advisory_unlock(${MIGRATION_LOCK}::int8)`.catch(() => undefined);
      }
    } catch (e) {
      throw new StoreUnavailable(`cannot migrate PostgreSQL at ${redactUrl(url)}: ${reason(e, url)}`, { cause: e });
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Opens the PostgreSQL store at `url`: migrates it, then serves every repository from one pool.
 * Throws, naming the URL without its password, when the database cannot be reached or migrated.
 */
export async function openPgBackend(url: string, opts: PgBackendOptions = {}): Promise<PgBackend> {
  await applyMigrations(url, MIGRATIONS_PG_DIR);
  const db = new PgDb(url, { max: opts.max });
  try {
    return pgBackend(db);
  } catch (e) {
    await db.close();
    throw e;
  }
}

function pgBackend(db: PgDb): PgBackend {
  return {
    kind: 'postgres',
    shared: true,
    db,
    repos: {
      projects: new PgProjectsRepo(db),
      runs: new PgRunsRepo(db),
      alerts: new PgAlertsRepo(db),
      webhooks: new PgWebhooksRepo(db),
      tokens: new PgTokensRepo(db),
      points: createPgPointStore(db),
    },
    transact: db.transact,
    transactBatch: db.transactBatch,
    // A failed statement rolls back to its savepoint (PgDb.transact); a lost connection fails
    // the next statement of the transaction, which then fails as a whole.
    inTransaction: () => db.inTransaction(),
    isTransient: isTransientPgError,
    notices: new PgNotices(db),
    // Retention and other periodic jobs: one server at a time.
    exclusive: (name, fn) => db.exclusive(name, fn),
    ping: async () => {
      await db.sql`SELECT 1`;
    },
    close: () => db.close(),
  };
}
