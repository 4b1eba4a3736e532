/**
 * PostgreSQL databases for test servers: one fresh database per server (CREATE DATABASE on the
 * superuser URL GRADWATCH_TEST_PG_URL, which `npm test` gets from scripts/pg-cluster.sh), so
 * tests never see each other's rows, and every database dropped again by the end of its file.
 */
import postgres from 'postgres';
import { inject } from 'vitest';

declare module 'vitest' {
  interface ProvidedContext {
    /** Name prefix of this run's databases (pg-global-setup.ts). */
    gwPgPrefix: string;
  }
}

export interface PgDatabase {
  /** The database's URL, for GRADWATCH_DATABASE_URL. */
  url: string;
  name: string;
  /** Drops it (WITH (FORCE): connections still open are ended); a second call does nothing. */
  drop(): Promise<void>;
}

/** Whether this test process runs its servers on PostgreSQL (the server-pg vitest project). */
export function usePostgres(): boolean {
  return process.env.GRADWATCH_TEST_BACKEND === 'postgres';
}

function adminUrl(): string {
  const url = process.env.GRADWATCH_TEST_PG_URL;
  if (!url) {
    throw new Error(
      'GRADWATCH_TEST_PG_URL is not set: the PostgreSQL tests need a superuser URL (npm test starts a throwaway cluster: scripts/pg-cluster.sh start)',
    );
  }
  return url;
}

/** One short-lived admin connection: nothing stays open to keep the worker alive. */
async function admin<T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(adminUrl(), { max: 1, onnotice: () => undefined, connect_timeout: 10 });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

const live = new Set<PgDatabase>();
let counter = 0;

/** This run's prefix (pg-global-setup.ts drops what is left of it at the end). */
function namePrefix(): string {
  try {
    return inject('gwPgPrefix') ?? 'gw_test_';
  } catch {
    return 'gw_test_';
  }
}

/** A new, empty database on the test server; the server's migrations create its tables. */
export async function freshPgDatabase(): Promise<PgDatabase> {
  // Unique across parallel workers and across runs sharing one PostgreSQL server.
  const name = `${namePrefix()}${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
  await admin((sql) => sql.unsafe(`CREATE DATABASE "${name}"`));
  const u = new URL(adminUrl());
  u.pathname = `/${name}`;
  let dropping: Promise<void> | null = null;
  const db: PgDatabase = {
    url: u.toString(),
    name,
    drop: () => {
      dropping ??= admin((sql) => sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => {
        live.delete(db);
      });
      return dropping;
    },
  };
  live.add(db);
  return db;
}

/**
 * Throws unless the server made its tables in db: a server that ignored GRADWATCH_DATABASE_URL
 * would pass every test on SQLite while the PostgreSQL backend went untested.
 */
export async function assertServerUsesDatabase(db: PgDatabase): Promise<void> {
  const sql = postgres(db.url, { max: 1, onnotice: () => undefined, connect_timeout: 10 });
  try {
    const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'`;
    if (!row || row.n === 0) {
      throw new Error(`the test server made no tables in ${db.name}: it did not run on GRADWATCH_DATABASE_URL (PostgreSQL)`);
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Every database of this process not dropped yet; the server-pg setup file calls it after each file. */
export async function dropAllPgDatabases(): Promise<void> {
  await Promise.all([...live].map((db) => db.drop()));
}
