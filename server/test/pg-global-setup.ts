/**
 * Global setup of the server-pg vitest project: fails the project at once, with the reason, when
 * there is no PostgreSQL to test on; gives this run's databases a name prefix of their own; and
 * at the end drops every database of that prefix still there (a file that failed in its afterAll
 * hooks, a worker that crashed), so a shared GRADWATCH_TEST_PG_URL server is left as it was.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
// The ProvidedContext key it provides is declared there.
import type {} from './pg-databases.js';

async function withAdmin<T>(url: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined, connect_timeout: 10 });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const url = process.env.GRADWATCH_TEST_PG_URL;
  if (!url) {
    throw new Error(
      'server-pg: GRADWATCH_TEST_PG_URL is not set. These tests run the server on PostgreSQL: run them with `npm test` (it starts a throwaway cluster), or start one (`scripts/pg-cluster.sh start`) and export GRADWATCH_TEST_PG_URL=<the URL it prints>.',
    );
  }
  try {
    await withAdmin(url, (sql) => sql`SELECT 1`);
  } catch (e) {
    throw new Error(`server-pg: cannot reach PostgreSQL at GRADWATCH_TEST_PG_URL: ${(e as Error).message}`);
  }
  const prefix = `gw_test_${randomBytes(3).toString('hex')}_`;
  project.provide('gwPgPrefix', prefix);
  return async () => {
    await withAdmin(url, async (sql) => {
      const left = await sql<{ datname: string }[]>`SELECT datname FROM pg_database WHERE starts_with(datname, ${prefix})`;
      for (const { datname } of left) await sql.unsafe(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    });
  };
}
