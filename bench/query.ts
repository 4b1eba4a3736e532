/**
 * Query benchmark: bucketed range queries straight against the point store (no HTTP), on a run
 * of SERIES series × STEPS steps written through the same code ingest uses. Prints timings;
 * never fails on timing.
 * Then one series of LONG points (default 10 million), the brief's "10-million-point series".
 * With --database-url the same figures are taken on PostgreSQL: the database is migrated
 * (migrations-pg), the bench's runs are written there and deleted at the end.
 *   npx tsx bench/query.ts [--series 200] [--steps 100000] [--long 10000000] [--smoke] [--database-url postgres://...]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { REPO_ROOT } from '../server/src/paths.js';
import { createPgPointStore } from '../server/src/points/pg-point-store.js';
import type { PointStore, StepPoints } from '../server/src/points/point-store.js';
import { createSqlitePointStore } from '../server/src/points/sqlite-point-store.js';
import { SqliteProjectsRepo } from '../server/src/projects/projects.repo.js';
import { SqliteRunsRepo } from '../server/src/runs/runs.repo.js';
import type { Transact } from '../server/src/storage/backend.js';
import { openDb } from '../server/src/storage/db.js';
import { PgDb, redactUrl } from '../server/src/storage/pg.js';
import { sqliteTransactors } from '../server/src/storage/sqlite-transact.js';

const { values: args } = parseArgs({
  options: {
    series: { type: 'string', default: '200' },
    steps: { type: 'string', default: '100000' },
    long: { type: 'string', default: '10000000' },
    smoke: { type: 'boolean', default: false },
    'database-url': { type: 'string' },
  },
});
const SERIES = args.smoke ? 20 : Number(args.series);
const STEPS = args.smoke ? 5000 : Number(args.steps);
const LONG = args.smoke ? 100_000 : Number(args.long);
const PG_URL = args['database-url'];

/** The store under test, how to write in a transaction, and runs to write to. */
interface Target {
  label: string;
  /** Steps per message for the wide run and the long one. */
  batches: [number, number];
  store: PointStore;
  transact: Transact;
  newRun(uid: string): Promise<number>;
  close(): Promise<void>;
}

async function sqliteTarget(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'gradwatch-query-'));
  const db = openDb(join(dir, 'q.db'), 'NORMAL');
  const runs = new SqliteRunsRepo(db);
  const project = await new SqliteProjectsRepo(db).ensure('bench');
  return {
    label: 'SQLite',
    batches: [10_000, 100_000],
    store: createSqlitePointStore(db),
    transact: sqliteTransactors(db.$client).transact,
    newRun: async (uid) => {
      const now = new Date().toISOString();
      return (await runs.insert({ uid, projectId: project.id, name: uid, createdAt: now, lastSeenAt: now })).id;
    },
    close: async () => {
      db.$client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function pgTarget(url: string): Promise<Target> {
  const db = new PgDb(url, { max: 4 });
  await migrate(drizzle(db.sql), { migrationsFolder: resolve(REPO_ROOT, 'migrations-pg') });
  const tag = `bench-query-${process.pid}-${Date.now()}`;
  const [project] = await db.sql<Array<{ id: number }>>`INSERT INTO projects (name) VALUES (${tag}) RETURNING id`;
  const store = createPgPointStore(db);
  const made: number[] = [];
  return {
    label: `PostgreSQL (${redactUrl(url)})`,
    // Smaller messages: one message is one statement per table, its parameters held in memory.
    batches: [2_000, 50_000],
    store,
    transact: db.transact,
    newRun: async (uid) => {
      const now = new Date().toISOString();
      const [r] = await db.sql<Array<{ id: number }>>`
        INSERT INTO runs (uid, project_id, name, created_at, last_seen_at) VALUES (${`${tag}-${uid}`}, ${project?.id ?? 0}, ${uid}, ${now}, ${now}) RETURNING id`;
      made.push(r?.id ?? 0);
      return r?.id ?? 0;
    },
    close: async () => {
      for (const id of made) await db.transact(() => store.deleteRun(id));
      await db.sql`DELETE FROM projects WHERE id = ${project?.id ?? 0}`;
      await db.close();
    },
  };
}

async function time(label: string, f: () => Promise<unknown>, reps = 3): Promise<void> {
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await f();
    ms.push(performance.now() - t);
  }
  console.log(`${label.padEnd(52)} best ${Math.min(...ms).toFixed(1).padStart(8)} ms, median ${ms.sort((a, b) => a - b)[Math.floor(reps / 2)]?.toFixed(1)} ms`);
}

/** Writes [0, total) in messages of `batch` steps, each its own transaction, through appendSteps. */
async function write(target: Target, run: number, total: number, batch: number, make: (s: number) => StepPoints): Promise<void> {
  for (let s = 0; s < total; s += batch) {
    const steps: StepPoints[] = [];
    for (let i = s; i < Math.min(total, s + batch); i++) steps.push(make(i));
    await target.transact(() => target.store.appendSteps(run, steps));
  }
}

async function bench(target: Target): Promise<void> {
  console.log(`--- ${target.label}`);
  const { store } = target;
  const names = Array.from({ length: SERIES }, (_, i) => `layer/l${i}/grad/norm`);
  const run = await target.newRun('q');
  let t = performance.now();
  // Written through the point store's appendSteps, the code ingest uses.
  await write(target, run, STEPS, target.batches[0], (s) => ({ step: s, names, values: names.map((_, i) => Math.sin(s * 0.001 + i) + (s % 97 === 0 ? 5 : 0)) }));
  console.log(`wrote ${SERIES} series × ${STEPS} steps in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const all = await store.series(run);
  await time(`query 1 series, 1000 buckets, whole range`, () => store.query(run, all.slice(0, 1), 0, STEPS - 1, 1000));
  await time(`query 33 series, 600 buckets, whole range`, () => store.query(run, all.slice(0, 33), 0, STEPS - 1, 600));
  await time(`query ${SERIES} series, 600 buckets, whole range`, () => store.query(run, all, 0, STEPS - 1, 600));
  await time(`query ${SERIES} series, 600 buckets, last 10%`, () => store.query(run, all, Math.floor(STEPS * 0.9), STEPS - 1, 600));
  await time(`series list with counts (${SERIES} series)`, () => store.seriesInfo(run));

  // One long series in its own run: a scalar logged every step.
  const longRun = await target.newRun('long');
  t = performance.now();
  const loss = ['loss'];
  await write(target, longRun, LONG, target.batches[1], (s) => ({ step: s, names: loss, values: [1 / (1 + s * 1e-5) + (s % 1000 === 0 ? Number.NaN : 0)] }));
  console.log(`wrote 1 series × ${LONG} steps in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const long = await store.series(longRun);
  await time(`query ${LONG} points, 1000 buckets, whole range`, () => store.query(longRun, long, 0, LONG - 1, 1000), 5);
  await time(`query ${LONG} points, 1000 buckets, middle 1%`, () => store.query(longRun, long, Math.floor(LONG * 0.5), Math.floor(LONG * 0.51), 1000), 5);
  await time(`query ${LONG} points, 1000 buckets, last 10,000 steps`, () => store.query(longRun, long, LONG - 10_000, LONG - 1, 1000), 5);
}

const target = PG_URL ? await pgTarget(PG_URL) : await sqliteTarget();
try {
  await bench(target);
} finally {
  await target.close();
}
