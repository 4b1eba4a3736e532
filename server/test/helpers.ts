import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import type { ServerMsg, StepItem } from '@gradwatch/shared';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { EngineFactory } from '../src/ingest/run-sessions.js';
import { assertServerUsesDatabase, freshPgDatabase, usePostgres, type PgDatabase } from './pg-databases.js';

export { freshPgDatabase, type PgDatabase } from './pg-databases.js';

export interface TestServer {
  app: FastifyInstance;
  url: string;
  wsUrl: string;
  dataDir: string;
  /** The PostgreSQL database it runs on (GRADWATCH_DATABASE_URL); null or absent: SQLite in dataDir. */
  databaseUrl?: string | null;
  close(): Promise<void>;
}

export function tempDir(prefix = 'gradwatch-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * On PostgreSQL a data dir stands for the server's storage, as its SQLite file does: a server
 * started again on the same dataDir (a restart) finds the same database. The database goes when
 * removeDir(dataDir) is called and no server is open on it, or at the end of the test file.
 */
interface PgStorage {
  db: PgDatabase;
  open: number;
  removed: boolean;
  checked: boolean;
}
const pgStorage = new Map<string, PgStorage>();

async function pgStorageOf(dataDir: string): Promise<PgStorage> {
  let st = pgStorage.get(dataDir);
  if (!st) {
    st = { db: await freshPgDatabase(), open: 0, removed: false, checked: false };
    pgStorage.set(dataDir, st);
  }
  return st;
}

function releasePgStorage(dataDir: string, st: PgStorage): Promise<void> {
  if (!st.removed || st.open > 0) return Promise.resolve();
  pgStorage.delete(dataDir);
  return st.db.drop();
}

/**
 * A real server on an ephemeral port with real storage: a SQLite file in dataDir, or, under
 * GRADWATCH_TEST_BACKEND=postgres (the server-pg project), a fresh PostgreSQL database of its own.
 * databaseUrl puts it on a given database instead (several servers on one: multi-server tests;
 * the caller owns that database, e.g. from freshPgDatabase()).
 */
export async function startServer(
  opts: { dataDir?: string; env?: Record<string, string>; engineFactory?: EngineFactory; databaseUrl?: string } = {},
): Promise<TestServer> {
  const dataDir = opts.dataDir ?? tempDir();
  const pg = opts.databaseUrl === undefined && usePostgres() ? await pgStorageOf(dataDir) : null;
  const databaseUrl = opts.databaseUrl ?? pg?.db.url ?? null;
  const env = {
    GRADWATCH_DATA_DIR: dataDir,
    GRADWATCH_PORT: '0',
    GRADWATCH_LOG_LEVEL: 'warn',
    ...(databaseUrl !== null ? { GRADWATCH_DATABASE_URL: databaseUrl } : {}),
    ...opts.env,
  };
  if (pg) pg.open++;
  let app: FastifyInstance;
  try {
    const config = loadConfig(env);
    app = await buildApp({ config, logger: false, ...(opts.engineFactory ? { engineFactory: opts.engineFactory } : {}) });
    await app.listen({ host: '127.0.0.1', port: 0 });
    if (pg && !pg.checked) {
      await assertServerUsesDatabase(pg.db).catch(async (e: unknown) => {
        await app.close();
        throw e;
      });
      pg.checked = true;
    }
  } catch (e) {
    if (pg) pg.open--;
    throw e;
  }
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  let closed: Promise<void> | null = null;
  return {
    app,
    url: `http://127.0.0.1:${addr.port}`,
    wsUrl: `ws://127.0.0.1:${addr.port}`,
    dataDir,
    databaseUrl,
    close: () =>
      (closed ??= app.close().then(() => {
        if (!pg) return;
        pg.open--;
        return releasePgStorage(dataDir, pg);
      })),
  };
}

/** Removes a data dir; on PostgreSQL its database follows once no server is open on it. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  const st = pgStorage.get(dir);
  if (st) {
    st.removed = true;
    // Not awaited (callers are synchronous): the setup file's afterAll waits for every drop.
    releasePgStorage(dir, st).catch(() => undefined);
  }
}

export async function getJson<T = unknown>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

/** A raw protocol socket that records every server message, for protocol-level assertions. */
export class RawSocket {
  readonly received: ServerMsg[] = [];
  private waiters: Array<{ pred: (m: ServerMsg) => boolean; resolve: (m: ServerMsg) => void }> = [];
  closeCode: number | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => {
      const m = JSON.parse(d.toString('utf8')) as ServerMsg;
      this.received.push(m);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(m)) return true;
        w.resolve(m);
        return false;
      });
    });
    ws.on('close', (code) => (this.closeCode = code));
  }

  static open(url: string): Promise<RawSocket> {
    const ws = new WebSocket(url);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new RawSocket(ws)));
      ws.once('error', reject);
    });
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** Resolves with the first message (already received or still to come) matching pred. */
  next(pred: (m: ServerMsg) => boolean, timeoutMs = 10_000): Promise<ServerMsg> {
    const seen = this.received.find(pred);
    if (seen) {
      this.received.splice(this.received.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting; received ${JSON.stringify(this.received.slice(-3))}`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (m) => {
          clearTimeout(t);
          this.received.splice(this.received.indexOf(m), 1);
          resolve(m);
        },
      });
    });
  }

  ack(seq: number): Promise<ServerMsg> {
    return this.next((m) => m.type === 'ack' && m.seq === seq);
  }

  error(seq?: number): Promise<ServerMsg> {
    return this.next((m) => m.type === 'error' && (seq === undefined || m.seq === seq));
  }

  close(): void {
    this.ws.close();
  }
}

export function hello(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'hello', protocol: 1, run: { id, project: 'test', name: `run ${id}` }, ...extra };
}

/** Deterministic synthetic stats for a layer at a step, distinct per layer and field. */
export function layerStats(step: number, li: number): NonNullable<StepItem['layers']>[string] {
  const base = (k: number) => Math.sin(step * 0.01 + li * 1.7 + k) * (li + 1);
  const stats = (k: number) => ({ mean: base(k), std: Math.abs(base(k + 1)) + 0.1, meanAbs: Math.abs(base(k + 2)) + 0.01, min: base(k + 3) - 5, max: base(k + 4) + 5 });
  return { param: stats(0), grad: stats(10), update: stats(20), act: stats(30) };
}

export function syntheticStep(step: number, layers: number): StepItem {
  const ls: NonNullable<StepItem['layers']> = {};
  for (let i = 0; i < layers; i++) ls[`layer${i}`] = layerStats(step, i);
  return { step, time: 1_700_000_000 + step * 0.1, epoch: Math.floor(step / 1000), scalars: { loss: 2 / (1 + step * 0.001), lr: 1e-3 }, layers: ls };
}

export const noRules: EngineFactory = () => ({
  onHello: () => [], onModel: () => [], onStep: () => [], onEval: () => [], onEnd: () => [], onEnded: () => [], onReopen: () => [],
  recall: () => undefined, restoreOpen: () => undefined, openAlerts: () => [], succeed: () => undefined, diagnoses: () => [],
});
