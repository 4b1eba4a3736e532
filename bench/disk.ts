/**
 * Bytes on disk per stored value, for the point store as ingest writes it (appendSteps, the
 * same packed tail rows, sealing and rollups): a one-scalar run and a 50-layer run whose stats
 * are float32 numbers as PyTorch produces them. Prints figures; never fails on them.
 *   npx tsx bench/disk.ts [--steps 200000] [--smoke]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { StepPoints } from '../server/src/points/point-store.js';
import { PointsRepo } from '../server/src/points/points.repo.js';
import { SqlitePointStore } from '../server/src/points/sqlite-point-store.js';
import { SqliteProjectsRepo } from '../server/src/projects/projects.repo.js';
import { SqliteRunsRepo } from '../server/src/runs/runs.repo.js';
import { openDb } from '../server/src/storage/db.js';
import { sqliteTransactor } from '../server/src/storage/sqlite-transact.js';

const { values: args } = parseArgs({ options: { steps: { type: 'string', default: '200000' }, smoke: { type: 'boolean', default: false } } });
const STEPS = args.smoke ? 20_000 : Number(args.steps);
const f32 = (x: number) => Math.fround(x);

async function measure(label: string, nSteps: number, names: string[], value: (step: number, i: number) => number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gradwatch-disk-'));
  const file = join(dir, 'd.db');
  const db = openDb(file, 'NORMAL');
  const store = new SqlitePointStore(new PointsRepo(db));
  const project = await new SqliteProjectsRepo(db).ensure('bench');
  const now = new Date().toISOString();
  const run = await new SqliteRunsRepo(db).insert({ uid: label, projectId: project.id, name: label, createdAt: now, lastSeenAt: now });
  const transact = sqliteTransactor(db.$client);
  const write = (from: number, to: number) => transact(async () => {
    const steps: StepPoints[] = [];
    for (let s = from; s < to; s++) steps.push({ step: s, time: 1.7e9 + s * 0.05, names, values: names.map((_, i) => value(s, i)) });
    await store.appendSteps(run.id, steps);
  });
  const per = Math.max(20, Math.floor(20_000 / names.length));
  for (let s = 0; s < nSteps; s += per) await write(s, Math.min(nSteps, s + per));
  db.$client.pragma('wal_checkpoint(TRUNCATE)');
  db.$client.exec('VACUUM');
  db.$client.close();
  const bytes = statSync(file).size;
  const values = nSteps * names.length;
  console.log(`${label.padEnd(40)} ${values.toLocaleString().padStart(12)} values  ${(bytes / 1e6).toFixed(1).padStart(7)} MB  ${(bytes / values).toFixed(2).padStart(6)} bytes/value`);
  rmSync(dir, { recursive: true, force: true });
}

// A loss that falls with noise, logged every step (TensorBoard's own case: 44 bytes a value).
await measure('1 scalar (loss, float32)', STEPS, ['loss'], (s) => f32(2 / (1 + s / 5000) + 0.05 * Math.sin(s * 1.3)));
const layerNames = Array.from({ length: 50 }, (_, l) => ['mean', 'std', 'meanAbs', 'min', 'max'].flatMap((f) => ['param', 'grad', 'update', 'act'].map((of) => `layer/l${l}/${of}/${f}`))).flat();
await measure('50 layers × 4 stats × 5 fields (float32)', Math.floor(STEPS / 100), layerNames, (s, i) => f32((1 + (i % 7)) * 0.01 * (1 + 0.1 * Math.sin(s * 0.01 + i)) + 1e-4 * Math.sin(s * 7.1 + i * 3.3)));
