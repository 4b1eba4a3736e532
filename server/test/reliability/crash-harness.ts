/**
 * The crash scenario shared by the CI test (a few kills) and bench/crash.ts (16 clients, 20
 * kills): training jobs stream through the real TS client into the server as a child process,
 * which is SIGKILLed at random moments and restarted on the same data dir and port. Then every
 * value the server acked is looked up: present once with exactly the value sent, or counted as
 * lost / duplicated / changed. Points, eval metrics, histograms and alerts are all checked.
 *
 * On PostgreSQL (`databaseUrl`) the servers share a fresh database made for the run; with
 * several servers the jobs are spread over them, each client knows every server's URL (its own
 * first) and moves to another when its server dies, and each kill SIGKILLs one server at random.
 */
import { IngestClient } from '@gradwatch/client';
import { encodeNum, type StepItem } from '@gradwatch/shared';
import { freshDatabase, type FreshDatabase } from './pg-database.js';
import { prng } from '../prng.js';
import { freePort, startProc, type Proc } from './proc.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CrashOptions {
  clients: number;
  kills: number;
  /** How long the server runs between kills: uniform in [minUpMs, maxUpMs]. */
  minUpMs: number;
  maxUpMs: number;
  layers: number;
  /** Steps each client produces per second while the server is up. */
  stepsPerSecond: number;
  seed: number;
  log?: (line: string) => void;
  /** A PostgreSQL server where a fresh database may be created (and dropped after): the servers run on it. Else SQLite. */
  databaseUrl?: string;
  /** Server processes on the one database (PostgreSQL only); default 1. */
  servers?: number;
}

export interface CrashFigures {
  backend: 'sqlite' | 'postgres';
  servers: number;
  seed: number;
  kills: number;
  messages: number;
  /** Values (one number each) in acked messages. */
  acked: number;
  found: number;
  lost: number;
  duplicated: number;
  changed: number;
  /** Acked before a kill: the values that had to survive one. */
  ackedBeforeKills: number;
  histograms: { acked: number; found: number; duplicated: number };
  /** Acked NaN losses, and how many came back as NaN. */
  nan: { acked: number; kept: number };
  alerts: { total: number; duplicated: number };
  rejected: number;
  stuckClients: number;
  seconds: number;
}

const FIELDS = ['mean', 'std', 'meanAbs', 'min', 'max'] as const;
const OFS = ['param', 'grad', 'update', 'act'] as const;
const BATCH = 10;

/** Every value is a pure function of (client, step, key): the check needs no record of them. */
const val = (c: number, step: number, k: number): number => Math.sin(c * 1000.13 + step * 0.731 + k * 1.37) * 10 ** ((k % 9) - 4);
/** The loss goes NaN now and then: the non-finite rules open alerts that must not duplicate. */
const lossOf = (c: number, step: number): number => (step % 400 === 399 ? Number.NaN : val(c, step, 0));

function item(c: number, step: number, layers: number): StepItem {
  const ls: NonNullable<StepItem['layers']> = {};
  for (let l = 0; l < layers; l++) {
    const o: Record<string, Record<string, number>> = {};
    OFS.forEach((of, oi) => {
      o[of] = Object.fromEntries(FIELDS.map((f, fi) => [f, val(c, step, 10 + l * 20 + oi * 5 + fi)]));
    });
    ls[`l${l}`] = o as NonNullable<StepItem['layers']>[string];
  }
  return { step, scalars: { loss: encodeNum(lossOf(c, step)), acc: val(c, step, 1) }, layers: ls };
}

/** Names and expected values of one step's series. */
function expectedOf(c: number, step: number, layers: number): Array<[string, number]> {
  const out: Array<[string, number]> = [['loss', lossOf(c, step)], ['acc', val(c, step, 1)]];
  for (let l = 0; l < layers; l++) {
    OFS.forEach((of, oi) => FIELDS.forEach((f, fi) => out.push([`layer/l${l}/${of}/${f}`, val(c, step, 10 + l * 20 + oi * 5 + fi)])));
  }
  return out;
}

const same = (got: number | string, want: number): boolean => got === encodeNum(want);

interface Job {
  c: number;
  client: IngestClient;
  /** Message seq → what it carried. */
  messages: Array<{ seq: number; kind: 'model' | 'steps' | 'eval' | 'hist' | 'end'; steps?: number[]; step?: number }>;
  nextStep: number;
  ackedAtKills: number[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export async function runCrashScenario(o: CrashOptions): Promise<CrashFigures> {
  const log = o.log ?? (() => undefined);
  const rand = prng(o.seed);
  const n = o.servers ?? 1;
  if (n > 1 && !o.databaseUrl) throw new Error('several servers need a shared database: set databaseUrl');
  const db: FreshDatabase | null = o.databaseUrl ? await freshDatabase(o.databaseUrl, 'gw_crash') : null;
  const env: Record<string, string> = { GRADWATCH_MAX_MESSAGES_PER_SECOND: '100000', ...(db ? { GRADWATCH_DATABASE_URL: db.url } : {}) };
  const dirs = Array.from({ length: n }, () => mkdtempSync(join(tmpdir(), 'gradwatch-crash-')));
  const ports: number[] = [];
  const srvs: Proc[] = [];
  const t0 = Date.now();
  for (let i = 0; i < n; i++) {
    ports.push(await freePort());
    srvs.push(await startProc(dirs[i] as string, ports[i] as number, env));
  }
  const jobs: Job[] = [];
  for (let c = 0; c < o.clients; c++) {
    // Its own server first, then the others in turn: a job whose server dies moves on.
    const urls = Array.from({ length: n }, (_, k) => (srvs[(c + k) % n] as Proc).wsUrl);
    const client = new IngestClient({
      url: urls, run: { id: `crash-${c}`, project: 'crash', name: `crash ${c}` },
      batchSize: BATCH, flushMs: 1e9, window: 16, maxBackoffMs: 250,
    });
    await client.connect();
    const job: Job = { c, client, messages: [], nextStep: 0, ackedAtKills: [] };
    const layers = Array.from({ length: o.layers }, (_, l) => ({ name: `l${l}`, kind: 'Linear', params: 100 + l, fanIn: 10, fanOut: 10 }));
    job.messages.push({ seq: client.model({ layers, loss: 'MSELoss', optimizer: { type: 'SGD', lr: 0.01 } }), kind: 'model' });
    jobs.push(job);
  }

  let producing = true;
  const tickMs = Math.max(5, Math.round((1000 * BATCH) / o.stepsPerSecond));
  const producers = jobs.map(async (job) => {
    while (producing) {
      // A training job does not queue without bound while the server is away.
      if (job.client.unacked < 400) {
        const first = job.nextStep;
        for (let k = 0; k < BATCH; k++) job.client.step(item(job.c, job.nextStep++, o.layers));
        // batchSize steps were just sent as one message: its seq is the one before the next.
        const stepsSeq = job.messages.length + 1;
        job.messages.push({ seq: stepsSeq, kind: 'steps', steps: Array.from({ length: BATCH }, (_, k) => first + k) });
        const last = job.nextStep - 1;
        if (last % 50 === 49) {
          const seq = job.client.eval({ step: last, split: 'val', metrics: { loss: val(job.c, last, 2), acc: val(job.c, last, 3) } });
          job.messages.push({ seq, kind: 'eval', step: last });
        }
        if (last % 100 === 99) {
          const edges = [-1, -0.5, 0, 0.5, 1];
          const counts = [1, 2, 3, Math.floor(Math.abs(val(job.c, last, 4)) * 100)];
          const seq = job.client.hist({ step: last, layer: 'l0', of: 'grad', edges, counts });
          job.messages.push({ seq, kind: 'hist', step: last });
        }
        const bad = job.messages.find((m, i) => m.seq !== i + 1);
        if (bad) throw new Error(`client ${job.c}: seq bookkeeping broke at ${bad.seq}`);
      }
      await sleep(tickMs);
    }
  });

  for (let k = 0; k < o.kills; k++) {
    await sleep(o.minUpMs + rand() * (o.maxUpMs - o.minUpMs));
    // One server draws no number: the SQLite scenario of a seed is what it always was.
    const victim = n > 1 ? Math.floor(rand() * n) : 0;
    await (srvs[victim] as Proc).kill('SIGKILL');
    for (const j of jobs) j.ackedAtKills.push(j.client.lastAckedSeq);
    log(`kill ${k + 1}/${o.kills}${n > 1 ? ` (server ${victim})` : ''} at ${((Date.now() - t0) / 1000).toFixed(1)} s: acked so far ${jobs.reduce((m, j) => m + j.client.lastAckedSeq, 0)} messages`);
    srvs[victim] = await startProc(dirs[victim] as string, ports[victim] as number, env);
  }
  await sleep(o.minUpMs);
  producing = false;
  await Promise.all(producers);

  let stuckClients = 0;
  await Promise.all(jobs.map(async (j) => {
    try {
      j.messages.push({ seq: j.messages.length + 1, kind: 'end' });
      await j.client.end('completed', 60_000);
    } catch (e) {
      stuckClients++;
      log(`client ${j.c}: ${(e as Error).message}`);
    }
    j.client.close();
  }));

  // The check, through the REST API; on PostgreSQL each job is read through the server it did not start on.
  const values = o.layers * 20 + 2;
  const figures: CrashFigures = {
    backend: db ? 'postgres' : 'sqlite', servers: n, seed: o.seed, kills: o.kills, messages: 0, acked: 0, found: 0, lost: 0, duplicated: 0, changed: 0, ackedBeforeKills: 0,
    histograms: { acked: 0, found: 0, duplicated: 0 }, nan: { acked: 0, kept: 0 }, alerts: { total: 0, duplicated: 0 }, rejected: 0, stuckClients, seconds: 0,
  };
  for (const j of jobs) {
    const run = `crash-${j.c}`;
    const srv = srvs[(j.c + 1) % n] as Proc;
    const lastAcked = j.client.lastAckedSeq;
    const beforeKill = Math.max(0, ...j.ackedAtKills);
    figures.messages += j.messages.length;
    figures.rejected += j.client.rejected.length;
    const acked = j.messages.filter((m) => m.seq <= lastAcked);
    // Series: every acked step's values, once each.
    const stepsAcked = acked.filter((m) => m.kind === 'steps').flatMap((m) => m.steps ?? []);
    const seriesWanted = new Map<string, Map<number, number>>();
    for (const s of stepsAcked) {
      for (const [name, v] of expectedOf(j.c, s, o.layers)) {
        let m = seriesWanted.get(name);
        if (!m) seriesWanted.set(name, (m = new Map()));
        m.set(s, v);
      }
    }
    const evalsAcked = acked.filter((m) => m.kind === 'eval').map((m) => m.step as number);
    seriesWanted.set('eval/val/loss', new Map(evalsAcked.map((s) => [s, val(j.c, s, 2)])));
    seriesWanted.set('eval/val/acc', new Map(evalsAcked.map((s) => [s, val(j.c, s, 3)])));
    const ackedBefore = new Set(j.messages.filter((m) => m.seq <= beforeKill).flatMap((m) => (m.kind === 'steps' ? (m.steps ?? []) : [])));
    figures.ackedBeforeKills += ackedBefore.size * values;
    for (const [name, want] of seriesWanted) {
      const got = (await getJson<{ points: Array<[number, number | string]> }>(`${srv.url}/api/v1/runs/${run}/series/export?name=${encodeURIComponent(name)}`).catch(() => ({ points: [] }))).points;
      const seen = new Map<number, number>();
      for (const [s, v] of got) {
        seen.set(s, (seen.get(s) ?? 0) + 1);
        const w = want.get(s);
        if (w !== undefined && seen.get(s) === 1 && !same(v, w)) figures.changed++;
        if (w !== undefined && Number.isNaN(w) && seen.get(s) === 1 && v === 'NaN') figures.nan.kept++;
      }
      for (const w of want.values()) if (Number.isNaN(w)) figures.nan.acked++;
      for (const [s] of want) {
        figures.acked++;
        const n = seen.get(s) ?? 0;
        if (n === 0) figures.lost++;
        else figures.found++;
        if (n > 1) figures.duplicated += n - 1;
      }
    }
    // Histograms.
    const histsAcked = acked.filter((m) => m.kind === 'hist').map((m) => m.step as number);
    const hs = (await getJson<{ histograms: Array<{ step: number; counts: number[] }> }>(`${srv.url}/api/v1/runs/${run}/histograms?limit=1000`)).histograms;
    const byStep = new Map<number, number>();
    for (const h of hs) byStep.set(h.step, (byStep.get(h.step) ?? 0) + 1);
    for (const s of histsAcked) {
      figures.histograms.acked++;
      figures.acked++;
      const n = byStep.get(s) ?? 0;
      const h = hs.find((x) => x.step === s);
      if (n > 0) {
        figures.histograms.found++;
        figures.found++;
        if (h && h.counts[3] !== Math.floor(Math.abs(val(j.c, s, 4)) * 100)) figures.changed++;
      } else figures.lost++;
      if (n > 1) {
        figures.histograms.duplicated += n - 1;
        figures.duplicated += n - 1;
      }
    }
    // Alerts: one per (rule, layer, first step); never a second open one for a (rule, layer).
    const alerts = (await getJson<{ alerts: Array<{ rule: string; layer?: string; firstStep: number; status: string }> }>(`${srv.url}/api/v1/runs/${run}/alerts?limit=500`)).alerts;
    figures.alerts.total += alerts.length;
    const keys = new Map<string, number>();
    for (const a of alerts) {
      const k1 = `${a.rule}|${a.layer ?? ''}|${a.firstStep}`;
      keys.set(k1, (keys.get(k1) ?? 0) + 1);
      if (a.status === 'open') {
        const k2 = `open|${a.rule}|${a.layer ?? ''}`;
        keys.set(k2, (keys.get(k2) ?? 0) + 1);
      }
    }
    for (const n of keys.values()) if (n > 1) figures.alerts.duplicated += n - 1;
  }
  await Promise.all(srvs.map((s) => s.kill('SIGTERM')));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await db?.drop();
  figures.seconds = (Date.now() - t0) / 1000;
  return figures;
}
