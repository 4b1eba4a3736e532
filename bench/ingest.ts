/**
 * Ingest benchmark: N concurrent training jobs stream synthetic per-layer stats through the real
 * WebSocket path into a server process; prints values/s (acked after commit), ack latency,
 * server RSS, then the same with live subscribers attached and their delivery latency.
 *
 * One value = one number: a scalar, or one field of a layer's stats object. A step carries
 * LAYERS x 4 stats objects (param, grad, update, act) x 5 fields (mean, std, meanAbs, min, max)
 * plus 2 scalars (loss, lr): 1,002 values at the default 50 layers.
 *
 * With --database-url (a PostgreSQL server where the bench may CREATE DATABASE) the same phases
 * run, in one go on the same machine, on SQLite, on PostgreSQL with one server and on
 * PostgreSQL with --servers servers (default 2; jobs and subscribers spread over them, so live
 * points cross servers), each PostgreSQL case on a fresh database, dropped after.
 *
 * Jobs send MessagePack binary frames, as both clients do when the server offers them;
 * --encoding json sends JSON text frames instead (what a client without binary frames sends).
 *
 * Each job ends its run as a finished job does (`end`, then it disconnects).
 *
 * After the full-speed phases, a paced one: every job sends on a clock at --paced (default 0.7)
 * of the first phase's rate, which is where ack latency is judged (a saturated server's acks
 * wait behind its queue by design); --paced 0 skips it.
 *
 *   npx tsx bench/ingest.ts [--jobs 16] [--layers 50] [--seconds 15] [--batch 10] [--subscribers 5] [--paced 0.7] [--smoke]
 *                           [--encoding msgpack|json] [--database-url postgres://user@host:5432/postgres]
 *                           [--servers 2] [--cases sqlite,pg,pgN]
 */
import WebSocket from 'ws';
import { pack } from 'msgpackr';
import postgres from 'postgres';
import { parseArgs } from 'node:util';
import { freshDatabase } from '../server/test/reliability/pg-database.js';
import { cpuSecondsNamed, percentile, startServerProcess, type ServerProcess } from './server-process.js';

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '16' },
    layers: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '15' },
    batch: { type: 'string', default: '10' },
    window: { type: 'string', default: '4' },
    subscribers: { type: 'string', default: '5' },
    paced: { type: 'string', default: '0.7' },
    synchronous: { type: 'string', default: 'FULL' },
    'database-url': { type: 'string' },
    servers: { type: 'string', default: '2' },
    /** Which cases to run: sqlite, pg (one server), pgN (--servers servers). */
    cases: { type: 'string', default: 'sqlite,pg,pgN' },
    encoding: { type: 'string', default: 'msgpack' },
    smoke: { type: 'boolean', default: false },
  },
});
if (args.encoding !== 'msgpack' && args.encoding !== 'json') throw new Error(`--encoding must be msgpack or json, not ${args.encoding}`);
const BINARY = args.encoding === 'msgpack';
const JOBS = Number(args.jobs);
const LAYERS = Number(args.layers);
const SECONDS = args.smoke ? 2 : Number(args.seconds);
const BATCH = Number(args.batch);
const WINDOW = Number(args.window);
const SUBS = Number(args.subscribers);
const VALUES_PER_STEP = LAYERS * 4 * 5 + 2;
const PACED = Number(args.paced);

function stats(seed: number) {
  const r = (k: number) => Math.sin(seed * 12.9898 + k * 78.233) * 0.5;
  return { mean: r(1), std: Math.abs(r(2)) + 0.01, meanAbs: Math.abs(r(3)) + 0.01, min: r(4) - 1, max: r(5) + 1 };
}

function templateItems(mark: { step: (i: number) => unknown; time: unknown }): object[] {
  const items = [];
  for (let i = 0; i < BATCH; i++) {
    const layers: Record<string, object> = {};
    for (let l = 0; l < LAYERS; l++) {
      const k = i * 131 + l * 7;
      layers[`block${l}.conv`] = { param: stats(k), grad: stats(k + 1), update: stats(k + 2), act: stats(k + 3) };
    }
    items.push({ step: mark.step(i), time: mark.time, scalars: { loss: 2 / (1 + i / 1000), lr: 1e-3 }, layers });
  }
  return items;
}

/**
 * Messages are built once as a template and only their seq, steps and times are filled in, so
 * the load generator spends its CPU on sending, not on encoding, and the server gets the whole
 * machine's other core. JSON: the text around placeholder strings. MessagePack: placeholder
 * floats (always encoded as 9-byte float64s) overwritten in a copy of the packed bytes.
 */
const jsonTemplate = (() => {
  const SEQ = '"__SEQ__"';
  const TIME = '"__TIME__"';
  const json = JSON.stringify({ type: 'steps', seq: '__SEQ__', items: templateItems({ step: (i) => `__STEP${i}__`, time: '__TIME__' }) });
  const parts: string[] = [];
  const holes: Array<{ kind: 'seq' | 'time' | 'step'; i: number }> = [];
  const re = new RegExp(`${SEQ}|${TIME}|"__STEP(\\d+)__"`, 'g');
  let last = 0;
  for (const m of json.matchAll(re)) {
    parts.push(json.slice(last, m.index));
    holes.push(m[0] === SEQ ? { kind: 'seq', i: 0 } : m[0] === TIME ? { kind: 'time', i: 0 } : { kind: 'step', i: Number(m[1]) });
    last = (m.index ?? 0) + m[0].length;
  }
  parts.push(json.slice(last));
  return { parts, holes };
})();

const binaryTemplate = (() => {
  const SEQ = 1.25e300;
  const TIME = 1.5e300;
  const STEP = (i: number) => 1.75e300 + i * 1e290;
  const bytes = pack({ type: 'steps', seq: SEQ, items: templateItems({ step: STEP, time: TIME }) });
  const at = (v: number): number[] => {
    const needle = Buffer.alloc(9);
    needle[0] = 0xcb;
    needle.writeDoubleBE(v, 1);
    const found: number[] = [];
    for (let o = bytes.indexOf(needle); o >= 0; o = bytes.indexOf(needle, o + 9)) found.push(o + 1);
    return found;
  };
  return { bytes, seq: at(SEQ), time: at(TIME), steps: Array.from({ length: BATCH }, (_, i) => at(STEP(i))) };
})();
if (binaryTemplate.seq.length !== 1 || binaryTemplate.time.length !== BATCH) throw new Error('the MessagePack template lost a placeholder');

function stepsMessage(seq: number, firstStep: number, t: number): string | Buffer {
  if (BINARY) {
    const b = Buffer.from(binaryTemplate.bytes);
    for (const o of binaryTemplate.seq) b.writeDoubleBE(seq, o);
    for (const o of binaryTemplate.time) b.writeDoubleBE(t, o);
    binaryTemplate.steps.forEach((offs, i) => offs.forEach((o) => b.writeDoubleBE(firstStep + i, o)));
    return b;
  }
  let out = jsonTemplate.parts[0] as string;
  jsonTemplate.holes.forEach((h, i) => {
    out += String(h.kind === 'seq' ? seq : h.kind === 'time' ? t : firstStep + h.i) + (jsonTemplate.parts[i + 1] as string);
  });
  return out;
}

interface JobResult { acked: number; latencies: number[] }

/**
 * One training job. Full speed: a new message as each ack comes, WINDOW in flight. Paced: one
 * message every `everyMs` from a random phase, however many are in flight, as a job at a
 * steady rate would send them.
 */
async function runJob(wsUrl: string, id: string, until: number, everyMs?: number): Promise<JobResult> {
  const ws = new WebSocket(`${wsUrl}/v1/ingest`);
  await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
  const res: JobResult = { acked: 0, latencies: [] };
  const sentAt = new Map<number, number>();
  let seq = 0;
  let step = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((r) => (finish = r));
  // As a job's finish() does: an end once everything is acked; its ack ends the job.
  let endSeq = 0;
  const done = () => {
    if (endSeq > 0) return;
    endSeq = ++seq;
    ws.send(JSON.stringify({ type: 'end', seq: endSeq, status: 'completed' }));
  };
  const send = () => {
    if (Date.now() >= until) {
      if (sentAt.size === 0) done();
      return;
    }
    seq++;
    sentAt.set(seq, performance.now());
    ws.send(stepsMessage(seq, step, Date.now() / 1000));
    step += BATCH;
  };
  ws.on('message', (d: Buffer) => {
    const m = JSON.parse(d.toString()) as { type: string; seq?: number; code?: string; message?: string };
    if (m.type === 'welcome') {
      if (BINARY && (m as { encoding?: string }).encoding !== 'msgpack') throw new Error('the server did not offer MessagePack frames');
      if (everyMs === undefined) {
        for (let i = 0; i < WINDOW; i++) send();
      } else {
        setTimeout(() => {
          const clock = setInterval(() => {
            if (Date.now() >= until) clearInterval(clock);
            send();
          }, everyMs);
        }, Math.random() * everyMs);
      }
    } else if (m.type === 'ack' && m.seq !== undefined) {
      if (m.seq === endSeq) return finish();
      const t0 = sentAt.get(m.seq);
      if (t0 !== undefined) {
        res.latencies.push(performance.now() - t0);
        sentAt.delete(m.seq);
        res.acked += BATCH * VALUES_PER_STEP;
      }
      if (everyMs === undefined) send();
      else if (Date.now() >= until && sentAt.size === 0) done();
    } else if (m.type === 'error') {
      console.error(`job ${id}: ${m.code}: ${m.message}`);
    }
  });
  ws.send(JSON.stringify({ type: 'hello', protocol: 1, run: { id, project: 'bench', name: id }, ...(BINARY ? { encodings: ['msgpack'] } : {}) }));
  await finished;
  ws.close();
  return res;
}

function subscribe(wsUrl: string, runs: string[], latencies: number[]): Promise<WebSocket> {
  const ws = new WebSocket(`${wsUrl}/v1/live`);
  // What a dashboard shows of a run: the loss and every layer's update ratio.
  const series = ['loss', ...Array.from({ length: LAYERS }, (_, l) => `layer/block${l}.conv/update_ratio`)];
  ws.on('message', (d: Buffer) => {
    const m = JSON.parse(d.toString()) as { type: string; series?: Record<string, Array<[number, number]>> };
    if (m.type === 'points' && m.series?.loss) latencies.push(Date.now() - lastSendWall);
  });
  return new Promise((r) => ws.once('open', () => { ws.send(JSON.stringify({ type: 'subscribe', runs, series })); r(ws); }));
}
// The newest send time across jobs approximates when the delivered step was produced.
let lastSendWall = Date.now();

/**
 * Jobs and subscribers go round-robin over the servers; RSS is the largest seen of each server.
 * With `paceRate` (values/s in all) the jobs send on a clock. Returns the values/s acked.
 */
async function phase(label: string, srvs: ServerProcess[], subscribers: number, paceRate?: number): Promise<number> {
  const runs = Array.from({ length: JOBS }, (_, i) => `${label}-job-${i}`);
  const at = (i: number) => (srvs[i % srvs.length] as ServerProcess).wsUrl;
  const liveLat: number[] = [];
  // A subscriber sits on the server after its first job's, so with several servers live points cross over.
  const subs = await Promise.all(Array.from({ length: subscribers }, (_, i) => subscribe(at(i + 1), runs, liveLat)));
  const maxRss = srvs.map(() => 0);
  const sampler = setInterval(() => {
    srvs.forEach((s, i) => (maxRss[i] = Math.max(maxRss[i] as number, s.rssMb())));
    lastSendWall = Date.now();
  }, 20);
  const cpu0 = srvs.map((s) => s.cpuSeconds());
  const pgCpu0 = cpuSecondsNamed('postgres');
  const t0 = performance.now();
  const until = Date.now() + SECONDS * 1000;
  const everyMs = paceRate === undefined ? undefined : (JOBS * BATCH * VALUES_PER_STEP * 1000) / paceRate;
  const results = await Promise.all(runs.map((id, i) => runJob(at(i), id, until, everyMs)));
  const secs = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const cpu = srvs.reduce((n, s, i) => n + s.cpuSeconds() - (cpu0[i] as number), 0);
  const pgCpu = cpuSecondsNamed('postgres') - pgCpu0;
  subs.forEach((s) => s.close());
  const acked = results.reduce((n, r) => n + r.acked, 0);
  const lat = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const ll = liveLat.sort((a, b) => a - b);
  const how = paceRate === undefined ? `window ${WINDOW}` : `paced at ${paceRate.toFixed(0)} values/s (${PACED} of the full-speed rate)`;
  console.log(`\n${label}: ${JOBS} jobs x ${LAYERS} layers, ${VALUES_PER_STEP} values/step, ${BATCH} steps/message (${args.encoding}), ${how}, ${subscribers} live subscribers`);
  console.log(`  ingested   ${(acked / secs).toFixed(0).padStart(10)} values/s  (${((acked / secs) / VALUES_PER_STEP).toFixed(0)} steps/s, ${acked} values acked in ${secs.toFixed(1)} s)`);
  console.log(`  ack latency p50 ${percentile(lat, 50).toFixed(1)} ms, p99 ${percentile(lat, 99).toFixed(1)} ms (${lat.length} messages)`);
  // CPU per value does not depend on what else the machine runs: the figure to compare changes by.
  const perM = (c: number) => ((c / acked) * 1e6).toFixed(2);
  console.log(`  CPU per million values: server ${perM(cpu)} s${pgCpu > 0 ? `, PostgreSQL ${perM(pgCpu)} s` : ''}`);
  console.log(`  server RSS max ${maxRss.map((m) => m.toFixed(0)).join(' + ')} MB`);
  if (subscribers > 0) console.log(`  live frames received ${ll.length}, delivery p50 ${percentile(ll, 50).toFixed(0)} ms, p99 ${percentile(ll, 99).toFixed(0)} ms (approximate: frame arrival minus newest send)`);
  return acked / secs;
}

const serverEnv = { GRADWATCH_SYNCHRONOUS: String(args.synchronous), GRADWATCH_MAX_MESSAGES_PER_SECOND: '100000' };

/** The settings a PostgreSQL figure depends on: with fsync off a commit is not durable at all. */
async function durability(url: string): Promise<string> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    const rows = await sql<Array<{ name: string; setting: string }>>`
      SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes') ORDER BY name`;
    return rows.map((r) => `${r.name}=${r.setting}`).join(', ');
  } finally {
    await sql.end();
  }
}

/** One backend case: its servers up, both phases, everything stopped (and the database dropped). */
async function runCase(label: string, servers: number, pgAdminUrl?: string): Promise<void> {
  const db = pgAdminUrl ? await freshDatabase(pgAdminUrl, 'gw_bench_ingest') : null;
  const env = db ? { ...serverEnv, GRADWATCH_DATABASE_URL: db.url } : serverEnv;
  const srvs: ServerProcess[] = [];
  try {
    // One after the other: the first migrates a fresh database.
    for (let i = 0; i < servers; i++) srvs.push(await startServerProcess(env));
    console.log(`\n=== ${label}${db ? ` (${await durability(db.url)})` : ''}`);
    const max = await phase('ingest', srvs, 0);
    if (SUBS > 0) await phase('ingest-live', srvs, SUBS);
    if (PACED > 0) await phase('ingest-paced', srvs, 0, PACED * max);
  } finally {
    await Promise.all(srvs.map((s) => s.stop()));
    await db?.drop();
  }
}

const PG = args['database-url'];
const N = Number(args.servers);
const CASES = new Set(String(args.cases).split(','));
if (CASES.has('sqlite')) await runCase('SQLite', 1);
if (PG) {
  if (CASES.has('pg')) await runCase('PostgreSQL, 1 server', 1, PG);
  if (CASES.has('pgN') && N > 1) await runCase(`PostgreSQL, ${N} servers`, N, PG);
}
