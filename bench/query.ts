/**
 * Query benchmark: bucketed range queries straight against the point store (no HTTP), on a run
 * of SERIES series × STEPS steps written through the same code ingest uses. Prints timings;
 * never fails on timing.
 * Then one series of LONG points (default 10 million), the brief's "10-million-point series".
 *   npx tsx bench/query.ts [--series 200] [--steps 100000] [--long 10000000] [--smoke]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SqlitePointStore } from '../server/src/points/point-store.js';
import { PointsRepo } from '../server/src/points/points.repo.js';
import { ProjectsRepo } from '../server/src/projects/projects.repo.js';
import { RunsRepo } from '../server/src/runs/runs.repo.js';
import { openDb } from '../server/src/storage/db.js';

const { values: args } = parseArgs({ options: { series: { type: 'string', default: '200' }, steps: { type: 'string', default: '100000' }, long: { type: 'string', default: '10000000' }, smoke: { type: 'boolean', default: false } } });
const SERIES = args.smoke ? 20 : Number(args.series);
const STEPS = args.smoke ? 5000 : Number(args.steps);
const LONG = args.smoke ? 100_000 : Number(args.long);

const dir = mkdtempSync(join(tmpdir(), 'gradwatch-query-'));
const db = openDb(join(dir, 'q.db'), 'NORMAL');
const runs = new RunsRepo(db);
const repo = new PointsRepo(db);
const store = new SqlitePointStore(repo);
const project = new ProjectsRepo(db).ensure('bench');
const now = new Date().toISOString();
const run = runs.insert({ uid: 'q', projectId: project.id, name: 'q', createdAt: now, lastSeenAt: now });
const names = Array.from({ length: SERIES }, (_, i) => `layer/l${i}/grad/norm`);

let t = performance.now();
// Written through the point store's appendSteps, the code ingest uses.
const write = db.$client.transaction((from: number, to: number) => {
  const steps = [];
  for (let s = from; s < to; s++) steps.push({ step: s, names, values: names.map((_, i) => Math.sin(s * 0.001 + i) + (s % 97 === 0 ? 5 : 0)) });
  store.appendSteps(run.id, steps);
});
for (let s = 0; s < STEPS; s += 10_000) write(s, Math.min(STEPS, s + 10_000));
console.log(`wrote ${SERIES} series × ${STEPS} steps in ${((performance.now() - t) / 1000).toFixed(1)} s`);

const all = repo.seriesOfRun(run.id);
function time(label: string, f: () => unknown, reps = 3): void {
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    t = performance.now();
    f();
    ms.push(performance.now() - t);
  }
  console.log(`${label.padEnd(52)} best ${Math.min(...ms).toFixed(1).padStart(8)} ms, median ${ms.sort((a, b) => a - b)[1]?.toFixed(1)} ms`);
}
time(`query 1 series, 1000 buckets, whole range`, () => store.query(run.id, all.slice(0, 1), 0, STEPS - 1, 1000));
time(`query 33 series, 600 buckets, whole range`, () => store.query(run.id, all.slice(0, 33), 0, STEPS - 1, 600));
time(`query ${SERIES} series, 600 buckets, whole range`, () => store.query(run.id, all, 0, STEPS - 1, 600));
time(`query ${SERIES} series, 600 buckets, last 10%`, () => store.query(run.id, all, Math.floor(STEPS * 0.9), STEPS - 1, 600));
time(`series list with counts (${SERIES} series)`, () => store.seriesInfo(run.id));

// One long series in its own run: a scalar logged every step.
const longRun = runs.insert({ uid: 'long', projectId: project.id, name: 'long', createdAt: now, lastSeenAt: now });
t = performance.now();
const loss = ['loss'];
const writeLong = db.$client.transaction((from: number, to: number) => {
  const steps = [];
  for (let s = from; s < to; s++) steps.push({ step: s, names: loss, values: [1 / (1 + s * 1e-5) + (s % 1000 === 0 ? Number.NaN : 0)] });
  store.appendSteps(longRun.id, steps);
});
for (let s = 0; s < LONG; s += 100_000) writeLong(s, Math.min(LONG, s + 100_000));
console.log(`wrote 1 series × ${LONG} steps in ${((performance.now() - t) / 1000).toFixed(1)} s`);
const long = repo.seriesOfRun(longRun.id);
time(`query ${LONG} points, 1000 buckets, whole range`, () => store.query(longRun.id, long, 0, LONG - 1, 1000), 5);
time(`query ${LONG} points, 1000 buckets, middle 1%`, () => store.query(longRun.id, long, Math.floor(LONG * 0.5), Math.floor(LONG * 0.51), 1000), 5);
time(`query ${LONG} points, 1000 buckets, last 10,000 steps`, () => store.query(longRun.id, long, LONG - 10_000, LONG - 1, 1000), 5);
db.$client.close();
rmSync(dir, { recursive: true, force: true });
