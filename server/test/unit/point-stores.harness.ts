import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { createPgPointStore } from '../../src/points/pg-point-store.js';
import type { PointStore, StepPoints } from '../../src/points/point-store.js';
import { createSqlitePointStore } from '../../src/points/sqlite-point-store.js';
import { REPO_ROOT } from '../../src/paths.js';
import { SqliteProjectsRepo } from '../../src/projects/projects.repo.js';
import { SqliteRunsRepo } from '../../src/runs/runs.repo.js';
import type { Transact } from '../../src/storage/backend.js';
import { openDb } from '../../src/storage/db.js';
import { PgDb } from '../../src/storage/pg.js';
import { sqliteTransactors } from '../../src/storage/sqlite-transact.js';

export const PG_URL = process.env.GRADWATCH_TEST_PG_URL;

/** The point stores under test; PostgreSQL when GRADWATCH_TEST_PG_URL names a cluster. */
export const BACKENDS: Array<{ name: string; skip: boolean; make: () => Promise<Harness> }> = [
  { name: 'SqlitePointStore', skip: false, make: sqliteHarness },
  { name: 'PgPointStore', skip: !PG_URL, make: () => pgHarness(PG_URL as string) },
];

/** Every series of a run with its points, by name. */
export async function pointsByName(store: PointStore, run: number): Promise<Map<string, Array<[number, number]>>> {
  const m = new Map<string, Array<[number, number]>>();
  for (const s of await store.series(run)) m.set(s.name, await collect(store.points(run, s)));
  return m;
}

/** One backend under test: its store, a second store on the same database (another server), runs. */
export interface Harness {
  store: PointStore;
  other(): PointStore;
  newRun(): Promise<number>;
  transact: Transact;
  /** The run's chunk and rollup summary rows, series by name: the two backends' rows must compare. */
  summaries(runId: number): Promise<unknown[]>;
  close(): Promise<void>;
}

const SUMMARIES = (run: string, w: string) => `
  SELECT s.name, 0 AS level, c.start_step AS a, c.end_step AS b, c.count, c.min, c.max, c.last, c.last_kind AS k, c.nan, c.pos_inf AS pi, c.neg_inf AS ni
    FROM chunks c JOIN series s ON s.id = c.series_id WHERE s.run_id = ${run}
  UNION ALL
  SELECT s.name, r.level, r.${w}, r.from_step, r.count, r.min, r.max, r.last, r.last_kind, r.nan, r.pos_inf, r.neg_inf
    FROM rollups r JOIN series s ON s.id = r.series_id WHERE s.run_id = ${run}
  ORDER BY 1, 2, 3`;

export async function sqliteHarness(): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'gw-points-'));
  const db = openDb(join(dir, 'p.db'), 'NORMAL');
  const project = await new SqliteProjectsRepo(db).ensure('t');
  const runs = new SqliteRunsRepo(db);
  let n = 0;
  return {
    store: createSqlitePointStore(db),
    other: () => createSqlitePointStore(db),
    newRun: async () => {
      const now = new Date().toISOString();
      return (await runs.insert({ uid: `r${n++}`, projectId: project.id, name: 'r', createdAt: now, lastSeenAt: now })).id;
    },
    transact: sqliteTransactors(db.$client).transact,
    summaries: async (run) => db.$client.prepare(SUMMARIES('@run', 'window')).all({ run }),
    close: async () => {
      db.$client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh database on the test cluster, migrated from migrations-pg, dropped on close. */
export async function pgHarness(url: string): Promise<Harness> {
  const name = `gw_points_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
  const admin = postgres(url, { max: 1, onnotice: () => undefined });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  const mig = postgres(u.toString(), { max: 1, onnotice: () => undefined });
  await migrate(drizzle(mig), { migrationsFolder: resolve(REPO_ROOT, 'migrations-pg') });
  await mig.end();
  const db = new PgDb(u.toString(), { max: 4 });
  const [project] = await db.sql<Array<{ id: number }>>`INSERT INTO projects (name) VALUES ('t') RETURNING id`;
  let n = 0;
  return {
    store: createPgPointStore(db),
    other: () => createPgPointStore(db),
    newRun: async () => {
      const now = new Date().toISOString();
      const [r] = await db.sql<Array<{ id: number }>>`
        INSERT INTO runs (uid, project_id, name, created_at, last_seen_at) VALUES (${`r${n++}`}, ${project?.id ?? 0}, 'r', ${now}, ${now}) RETURNING id`;
      return r?.id ?? 0;
    },
    transact: db.transact,
    summaries: async (run) => [...(await db.sql.unsafe(SUMMARIES('$1', '"window"'), [run]))],
    close: async () => {
      await db.close();
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

export { prng } from '../prng.js';

const SPECIAL = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0];

/** Steps with gaps, each carrying a random subset of the series, some values non-finite. */
export function randomSteps(rand: () => number, names: readonly string[], from: number, count: number, maxGap: number): StepPoints[] {
  const out: StepPoints[] = [];
  let step = from;
  for (let i = 0; i < count; i++) {
    const ns = names.filter(() => rand() < 0.8);
    const values = ns.map(() => (rand() < 0.03 ? (SPECIAL[Math.floor(rand() * SPECIAL.length)] as number) : (rand() - 0.5) * 100));
    out.push({ step, time: 1000 + step * 0.5, epoch: Math.floor(step / 1000), names: ns, values });
    step += 1 + Math.floor(rand() * maxGap);
  }
  return out;
}

/** The points each series should hold after these steps, as the oracle for reads. */
export function expectedPoints(steps: readonly StepPoints[]): Map<string, Array<[number, number]>> {
  const m = new Map<string, Array<[number, number]>>();
  for (const p of steps) {
    p.names.forEach((n, j) => {
      let l = m.get(n);
      if (!l) m.set(n, (l = []));
      l.push([p.step, p.values[j] as number]);
    });
  }
  return m;
}

/** Writes steps a message (`batch` steps) a transaction at a time, as ingest does. */
export async function writeSteps(h: Harness, store: PointStore, run: number, steps: readonly StepPoints[], batch = 10): Promise<void> {
  for (let i = 0; i < steps.length; i += batch) await h.transact(() => store.appendSteps(run, steps.slice(i, i + batch)));
}

export async function collect(it: AsyncGenerator<[number, number]>): Promise<Array<[number, number]>> {
  const out: Array<[number, number]> = [];
  for await (const p of it) out.push(p);
  return out;
}
