/**
 * Databases as older servers left them, for the upgrade tests: a server of today writes the data,
 * then these put an older layout back and take the record of the migrations since away (newest
 * first), so the next server start runs them on it.
 */
import Database from 'better-sqlite3';
import postgres from 'postgres';
import type { TestServer } from '../helpers.js';

/** A step's entry in the old row-per-step index. */
export type StepEntry = { step: number; time: number | null; epoch: number | null; examples: number | null };

const OLD_STEP_INDEX = {
  sqlite: [
    'DROP TABLE step_blocks',
    ...['time', 'epoch', 'examples', 'indexed'].map((c) => `ALTER TABLE step_tail DROP COLUMN ${c}`),
    'CREATE TABLE step_index (run_id integer NOT NULL, step integer NOT NULL, time real, epoch real, examples integer, PRIMARY KEY(run_id, step)) WITHOUT ROWID',
    'CREATE INDEX step_index_time_idx ON step_index (run_id, time)',
  ],
  pg: [
    'DROP TABLE step_blocks',
    ...['time', 'epoch', 'examples', 'indexed'].map((c) => `ALTER TABLE step_tail DROP COLUMN ${c}`),
    'CREATE TABLE step_index (run_id integer NOT NULL, step bigint NOT NULL, time double precision, epoch double precision, examples bigint, PRIMARY KEY(run_id, step))',
    'CREATE INDEX step_index_time_idx ON step_index (run_id, time)',
  ],
};

/** Takes the newest migration's record away. */
async function forgetNewestMigration(srv: TestServer): Promise<void> {
  await onDatabase(
    srv,
    async (sql) => {
      await sql`DELETE FROM drizzle.__drizzle_migrations WHERE created_at = (SELECT max(created_at) FROM drizzle.__drizzle_migrations)`;
    },
    // Its ids are NULL: the newest migration is the one applied last.
    (db) => {
      db.prepare('DELETE FROM __drizzle_migrations WHERE created_at = (SELECT max(created_at) FROM __drizzle_migrations)').run();
    },
  );
}

/** Runs `pg` or `sqlite` on the server's (closed) database. */
export async function onDatabase<T>(srv: TestServer, pg: (sql: postgres.Sql) => Promise<T>, sqlite: (db: Database.Database) => T): Promise<T> {
  if (srv.databaseUrl) {
    const sql = postgres(srv.databaseUrl, { max: 1, onnotice: () => undefined });
    try {
      return await pg(sql);
    } finally {
      await sql.end();
    }
  }
  const db = new Database(`${srv.dataDir}/gradwatch.db`);
  try {
    return sqlite(db);
  } finally {
    db.close();
  }
}

/** The database as it was before migration 0008 (step blocks), holding `rows` in its step index. */
export async function oldStepIndex(srv: TestServer, runId: number, rows: readonly StepEntry[]): Promise<void> {
  const values = rows.map((r) => [runId, r.step, r.time, r.epoch, r.examples] as const);
  await onDatabase(
    srv,
    async (sql) => {
      for (const s of OLD_STEP_INDEX.pg) await sql.unsafe(s);
      for (let i = 0; i < values.length; i += 1000) {
        await sql`INSERT INTO step_index ${sql(values.slice(i, i + 1000).map((v) => ({ run_id: v[0], step: v[1], time: v[2], epoch: v[3], examples: v[4] })))}`;
      }
    },
    (db) => {
      for (const s of OLD_STEP_INDEX.sqlite) db.exec(s);
      const ins = db.prepare('INSERT INTO step_index VALUES (?, ?, ?, ?, ?)');
      db.transaction(() => values.forEach((v) => ins.run(...v)))();
    },
  );
  await forgetNewestMigration(srv);
}

/** The database as it was before migration 0007 (rollup level 3; the step index must be undone first): returns the rows gone. */
export async function withoutLevel3(srv: TestServer): Promise<number> {
  const gone = await onDatabase(
    srv,
    async (sql) => (await sql`DELETE FROM rollups WHERE level = 3`).count,
    (db) => db.prepare('DELETE FROM rollups WHERE level = 3').run().changes,
  );
  await forgetNewestMigration(srv);
  return gone;
}
