/**
 * The repositories of both stores against one table of expectations (repo-cases/): the SQLite
 * ones on a fresh file per case, the PostgreSQL ones (when GRADWATCH_TEST_PG_URL names a server
 * where this test may CREATE DATABASE) on a database of their own, emptied before each case.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SqliteAlertsRepo } from '../../src/alerts/alerts.repo.js';
import { MIGRATIONS_PG_DIR } from '../../src/paths.js';
import { SqliteProjectsRepo } from '../../src/projects/projects.repo.js';
import { SqliteRunsRepo } from '../../src/runs/runs.repo.js';
import { openDb } from '../../src/storage/db.js';
import { openPgBackend, type PgBackend } from '../../src/storage/pg-backend.js';
import { sqliteTransactors } from '../../src/storage/sqlite-transact.js';
import { SqliteTokensRepo } from '../../src/tokens/tokens.repo.js';
import { SqliteWebhooksRepo } from '../../src/webhooks/webhooks.repo.js';
import { REPO_CASES, type Store } from './repo-cases/index.js';

const PG_URL = process.env.GRADWATCH_TEST_PG_URL;

/** Opens a fresh store for each case. */
interface Harness {
  shared: boolean;
  setup(): Promise<void>;
  fresh(): Promise<Store>;
  release(): Promise<void>;
  teardown(): Promise<void>;
}

function sqliteHarness(): Harness {
  let dir = '';
  let n = 0;
  let close = () => undefined as void;
  return {
    shared: false,
    setup: async () => {
      dir = mkdtempSync(join(tmpdir(), 'gw-repos-'));
    },
    fresh: async () => {
      const db = openDb(join(dir, `${n++}.db`));
      close = () => db.$client.close();
      return {
        shared: false,
        projects: new SqliteProjectsRepo(db),
        runs: new SqliteRunsRepo(db),
        alerts: new SqliteAlertsRepo(db),
        webhooks: new SqliteWebhooksRepo(db),
        tokens: new SqliteTokensRepo(db),
        transact: sqliteTransactors(db.$client).transact,
      };
    },
    release: async () => close(),
    teardown: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

const dbUrl = (url: string, name: string) => Object.assign(new URL(url), { pathname: `/${name}` }).toString();

/**
 * A database of its own, where the server has ICU with a collation that is not byte order
 * (en-US: "a" < "B"), so that ordering, comparing and case folding cannot lean on the default.
 */
async function createDatabase(admin: postgres.Sql, name: string): Promise<void> {
  try {
    await admin.unsafe(`CREATE DATABASE "${name}" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`);
  } catch {
    await admin.unsafe(`CREATE DATABASE "${name}"`);
  }
}

function pgHarness(url: string, name: string): Harness & { backend(): PgBackend } {
  const admin = postgres(url, { max: 1, onnotice: () => undefined });
  let backend: PgBackend | undefined;
  const open = () => {
    if (!backend) throw new Error('not set up');
    return backend;
  };
  return {
    shared: true,
    backend: open,
    setup: async () => {
      await createDatabase(admin, name);
      backend = await openPgBackend(dbUrl(url, name));
    },
    fresh: async () => {
      const b = open();
      const tables = await b.db.sql<Array<{ tablename: string }>>`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`;
      await b.db.sql`TRUNCATE ${b.db.sql(tables.map((t) => t.tablename))} RESTART IDENTITY CASCADE`;
      const r = b.repos;
      return { shared: true, projects: r.projects, runs: r.runs, alerts: r.alerts, webhooks: r.webhooks, tokens: r.tokens, transact: b.transact };
    },
    release: async () => undefined,
    teardown: async () => {
      await backend?.close();
      await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    },
  };
}

function repoSuite(h: Harness): void {
  let store: Store;
  beforeAll(() => h.setup());
  afterAll(() => h.teardown());
  beforeEach(async () => {
    store = await h.fresh();
  });
  afterEach(() => h.release());
  for (const c of REPO_CASES) it.skipIf(c.sharedOnly && !h.shared)(c.name, () => c.run(store));
}

describe('SQLite repositories', () => repoSuite(sqliteHarness()));

describe.skipIf(!PG_URL)('PostgreSQL repositories', () => {
  const prefix = `gw_repos_${process.pid}_${Date.now()}`;
  const h = pgHarness(PG_URL ?? '', `${prefix}_a`);
  repoSuite(h);

  it('is a shared store that answers a ping', async () => {
    const b = h.backend();
    expect([b.kind, b.shared]).toEqual(['postgres', true]);
    await expect(b.ping()).resolves.toBeUndefined();
  });

  it('migrates once when several servers start at the same time', async () => {
    const name = `${prefix}_m`;
    const admin = postgres(PG_URL ?? '', { max: 1, onnotice: () => undefined });
    await admin.unsafe(`CREATE DATABASE "${name}"`);
    try {
      const backends = await Promise.all([1, 2, 3].map(() => openPgBackend(dbUrl(PG_URL ?? '', name), { max: 2 })));
      const journal = JSON.parse(readFileSync(join(MIGRATIONS_PG_DIR, 'meta/_journal.json'), 'utf8')) as { entries: unknown[] };
      const [row] = await backends[0]!.db.sql<Array<{ n: number }>>`SELECT count(*) AS n FROM drizzle.__drizzle_migrations`;
      expect(row?.n).toBe(journal.entries.length);
      await Promise.all(backends.map((b) => b.ping()));
      await Promise.all(backends.map((b) => b.close()));
      // A restart finds nothing left to do.
      await (await openPgBackend(dbUrl(PG_URL ?? '', name))).close();
    } finally {
      await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    }
  });
});

describe('openPgBackend', () => {
  it('names the unreachable database by its URL without the password', async () => {
    const err = await openPgBackend('postgres://gw:s3cret-pw@127.0.0.1:1/gw').then(
      () => new Error('opened'),
      (e: unknown) => e as Error,
    );
    expect(err.message).toMatch(/^cannot reach PostgreSQL at postgres:\/\/gw:\*\*\*@127\.0\.0\.1:1\/gw: .*ECONNREFUSED/);
    expect(err.message).not.toContain('s3cret-pw');
  });
});
