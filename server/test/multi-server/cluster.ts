/**
 * Several real server processes on one fresh PostgreSQL database, for the multi-server tests:
 * each file makes its own database from GRADWATCH_TEST_PG_URL (a role that may CREATE
 * DATABASE) and drops it at the end. Without that variable the tests are skipped.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StepItem } from '@gradwatch/shared';
import { freshDatabase, type FreshDatabase } from '../reliability/pg-database.js';
import { freePort, startProc, type Proc } from '../reliability/proc.js';

export const PG_URL = process.env.GRADWATCH_TEST_PG_URL;

export interface Cluster {
  db: FreshDatabase;
  servers: Proc[];
  /** Starts server i again on its port (after a kill). */
  restart(i: number): Promise<Proc>;
  close(): Promise<void>;
}

export async function startCluster(n: number, env: Record<string, string> = {}): Promise<Cluster> {
  if (!PG_URL) throw new Error('GRADWATCH_TEST_PG_URL is not set');
  const db = await freshDatabase(PG_URL, 'gw_multi');
  const dirs = Array.from({ length: n }, () => mkdtempSync(join(tmpdir(), 'gradwatch-multi-')));
  const ports = await Promise.all(dirs.map(() => freePort()));
  const fullEnv = { GRADWATCH_DATABASE_URL: db.url, GRADWATCH_MAX_MESSAGES_PER_SECOND: '100000', ...env };
  const servers: Proc[] = [];
  // One after the other: the first migrates the fresh database, the others find it done.
  for (let i = 0; i < n; i++) servers.push(await startProc(dirs[i] as string, ports[i] as number, fullEnv));
  return {
    db,
    servers,
    restart: async (i) => (servers[i] = await startProc(dirs[i] as string, ports[i] as number, fullEnv)),
    close: async () => {
      await Promise.all(servers.map((s) => s.kill('SIGTERM')));
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      await db.drop();
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Every point of one series, at full resolution, through a server's REST API. */
export async function exportSeries(baseUrl: string, run: string, name: string): Promise<Array<[number, number | string]>> {
  return (await getJson<{ points: Array<[number, number | string]> }>(`${baseUrl}/api/v1/runs/${run}/series/export?name=${encodeURIComponent(name)}`)).points;
}

/** A step whose values are a pure function of (step, key), so a check needs no record of them. */
export const valueOf = (step: number, k: number): number => Math.sin(step * 0.37 + k * 1.91) * 10;

export const LAYERS = 2;

export function stepItem(step: number, loss = valueOf(step, 0)): StepItem {
  const stats = (k: number) => ({ mean: valueOf(step, k), std: Math.abs(valueOf(step, k + 1)) + 0.1, meanAbs: Math.abs(valueOf(step, k + 2)) + 0.1, min: -20, max: 20 });
  const layers: NonNullable<StepItem['layers']> = {};
  for (let l = 0; l < LAYERS; l++) layers[`l${l}`] = { param: stats(10 + l * 10), grad: stats(13 + l * 10) };
  return { step, scalars: { loss: Number.isNaN(loss) ? 'NaN' : loss, lr: 1e-3 }, layers } as StepItem;
}

/** The series a check reads back, with the value each step must have. */
export function expectedSeries(step: number): Array<[string, number]> {
  return [['loss', valueOf(step, 0)], ['lr', 1e-3], ['layer/l1/grad/mean', valueOf(step, 23)]];
}

/**
 * Reads `names` of `run` through every server and checks each holds exactly `steps` once, with
 * the values expectedSeries gives: returns the problems found (empty when all is well).
 */
export async function checkStored(bases: string[], run: string, steps: number[]): Promise<string[]> {
  const problems: string[] = [];
  const want = [...steps].sort((a, b) => a - b);
  for (const base of bases) {
    for (const [k, name] of expectedSeries(0).map(([n], i) => [i, n] as const)) {
      const got = await exportSeries(base, run, name);
      const gotSteps = got.map(([s]) => s);
      if (JSON.stringify(gotSteps) !== JSON.stringify(want)) {
        const missing = want.filter((s) => !gotSteps.includes(s));
        const extra = gotSteps.length - (want.length - missing.length);
        problems.push(`${base} ${name}: ${missing.length} steps missing (${missing.slice(0, 5).join(',')}), ${extra} extra of ${got.length}`);
        continue;
      }
      for (const [s, v] of got) {
        const w = (expectedSeries(s)[k] as [string, number])[1];
        if (v !== w) problems.push(`${base} ${name} step ${s}: ${v} != ${w}`);
      }
    }
  }
  return problems;
}
