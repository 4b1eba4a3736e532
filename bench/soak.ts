/**
 * Soak: measures the maximum ingest rate (live subscribers attached) for a few seconds, then streams at half of it for a
 * bounded time (default 10 minutes) with 5 live subscribers attached, sampling the server's RSS.
 * Prints RSS over time (it should stay flat) and acked latency percentiles (p50, p99, max).
 * Loopback only: the server is a child process on 127.0.0.1.
 *
 *   npx tsx bench/soak.ts [--minutes 10] [--jobs 8] [--layers 20] [--subscribers 5] [--smoke]
 *
 * --smoke: 3 s of measuring and 20 s of soak.
 */
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { percentile, startServerProcess } from './server-process.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    jobs: { type: 'string', default: '8' },
    layers: { type: 'string', default: '20' },
    batch: { type: 'string', default: '10' },
    subscribers: { type: 'string', default: '5' },
    smoke: { type: 'boolean', default: false },
  },
});
const JOBS = Number(args.jobs);
const LAYERS = Number(args.layers);
const BATCH = Number(args.batch);
const SUBS = Number(args.subscribers);
const MEASURE_S = args.smoke ? 3 : 15;
const SOAK_S = args.smoke ? 20 : Number(args.minutes) * 60;
const SAMPLE_MS = args.smoke ? 1000 : 5000;
const VALUES_PER_STEP = LAYERS * 20 + 2;

/** One steps message as a template: only seq and the steps change, so sending costs little CPU. */
const template = (() => {
  const stats = (k: number) => ({ mean: Math.sin(k) * 0.1, std: 0.05 + Math.abs(Math.cos(k)) * 0.01, meanAbs: 0.04, min: -0.2, max: 0.2 });
  const items = Array.from({ length: BATCH }, (_, i) => {
    const layers: Record<string, object> = {};
    for (let l = 0; l < LAYERS; l++) layers[`layer${l}`] = { param: stats(l), grad: stats(l + 1), update: stats(l + 2), act: stats(l + 3) };
    return { step: `@S${i}@`, scalars: { loss: 2 / (1 + i), lr: 1e-3 }, layers };
  });
  return JSON.stringify({ type: 'steps', seq: '@SEQ@', items }).split(/"@(SEQ|S\d+)@"/);
})();
function message(seq: number, first: number): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const part = template[i] as string;
    if (i % 2 === 0) out += part;
    else out += part === 'SEQ' ? String(seq) : String(first + Number(part.slice(1)));
  }
  return out;
}

interface Job { ws: WebSocket; seq: number; step: number; sentAt: Map<number, number>; latencies: number[]; acked: number; errors: number }

async function openJob(wsUrl: string, id: string): Promise<Job> {
  const ws = new WebSocket(`${wsUrl}/v1/ingest`);
  await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
  const job: Job = { ws, seq: 0, step: 0, sentAt: new Map(), latencies: [], acked: 0, errors: 0 };
  const welcome = new Promise<void>((r) => {
    ws.on('message', (d: Buffer) => {
      const m = JSON.parse(d.toString()) as { type: string; seq?: number; code?: string; message?: string };
      if (m.type === 'welcome') r();
      else if (m.type === 'ack' && m.seq !== undefined) {
        const t0 = job.sentAt.get(m.seq);
        if (t0 !== undefined) {
          job.latencies.push(performance.now() - t0);
          job.sentAt.delete(m.seq);
          job.acked++;
        }
      } else if (m.type === 'error') {
        job.errors++;
        if (job.errors < 5) console.error(`  ${id}: ${m.code}: ${m.message}`);
      }
    });
  });
  ws.send(JSON.stringify({ type: 'hello', protocol: 1, run: { id, project: 'soak', name: id } }));
  await welcome;
  return job;
}

function send(job: Job): void {
  job.seq++;
  job.sentAt.set(job.seq, performance.now());
  job.ws.send(message(job.seq, job.step));
  job.step += BATCH;
}

const srv = await startServerProcess({ GRADWATCH_MAX_MESSAGES_PER_SECOND: '100000' });
try {
  // Live subscribers first: the maximum is measured under the same fan-out as the soak.
  const runs = Array.from({ length: JOBS }, (_, i) => `soak-${i}`);
  const probeRuns = Array.from({ length: JOBS }, (_, i) => `max-${i}`);
  let livePoints = 0;
  const subs = await Promise.all(Array.from({ length: SUBS }, async (_, k) => {
    const ws = new WebSocket(`${srv.wsUrl}/v1/live`);
    await new Promise((r) => ws.once('open', r));
    ws.on('message', (d: Buffer) => { if ((JSON.parse(d.toString()) as { type: string }).type === 'points') livePoints++; });
    // Dashboards: one watches everything, the others the loss and a few layers.
    const all = [...runs, ...probeRuns];
    ws.send(JSON.stringify(k === 0 ? { type: 'subscribe', runs: all } : { type: 'subscribe', runs: all, series: ['loss', 'layer/layer0/update_ratio', `layer/layer${k}/grad/std`] }));
    return ws;
  }));

  // 1. The maximum: every job keeps 4 messages in flight for MEASURE_S seconds.
  const probe = await Promise.all(Array.from({ length: JOBS }, (_, i) => openJob(srv.wsUrl, `max-${i}`)));
  const t0 = performance.now();
  const until = Date.now() + MEASURE_S * 1000;
  await Promise.all(probe.map((job) => new Promise<void>((done) => {
    const pump = () => {
      if (Date.now() >= until) return job.sentAt.size === 0 ? done() : setTimeout(pump, 5);
      while (job.sentAt.size < 4) send(job);
      setTimeout(pump, 1);
    };
    pump();
  })));
  const maxMsgs = probe.reduce((n, j) => n + j.acked, 0) / ((performance.now() - t0) / 1000);
  probe.forEach((j) => j.ws.close());
  const target = maxMsgs / 2;
  console.log(`max ingest: ${maxMsgs.toFixed(0)} messages/s = ${(maxMsgs * BATCH * VALUES_PER_STEP).toFixed(0)} values/s (${JOBS} jobs x ${LAYERS} layers, ${BATCH} steps/message)`);
  console.log(`soak: ${SOAK_S} s at half of it, ${target.toFixed(0)} messages/s = ${(target * BATCH * VALUES_PER_STEP).toFixed(0)} values/s, ${SUBS} live subscribers`);

  // 2. The soak: paced senders at half the maximum.
  const jobs = await Promise.all(Array.from({ length: JOBS }, (_, i) => openJob(srv.wsUrl, `soak-${i}`)));
  const perJobInterval = 1000 / (target / JOBS);
  const start = Date.now();
  const end = start + SOAK_S * 1000;
  const samples: Array<{ t: number; rss: number; acked: number }> = [];
  const sampler = setInterval(() => samples.push({ t: (Date.now() - start) / 1000, rss: srv.rssMb(), acked: jobs.reduce((n, j) => n + j.acked, 0) }), SAMPLE_MS);
  await Promise.all(jobs.map((job, i) => new Promise<void>((done) => {
    let next = start + (i * perJobInterval) / JOBS;
    const tick = () => {
      const now = Date.now();
      if (now >= end) return done();
      while (next <= now) {
        // Never more than 64 in flight: a server that falls behind shows up as latency, not memory here.
        if (job.sentAt.size < 64) send(job);
        next += perJobInterval;
      }
      setTimeout(tick, Math.max(1, next - Date.now()));
    };
    tick();
  })));
  clearInterval(sampler);
  await new Promise((r) => setTimeout(r, 500));
  subs.forEach((s) => s.close());
  jobs.forEach((j) => j.ws.close());

  const lat = jobs.flatMap((j) => j.latencies).sort((a, b) => a - b);
  const acked = jobs.reduce((n, j) => n + j.acked, 0);
  console.log(`\n  acked ${acked} messages (${(acked * BATCH * VALUES_PER_STEP / 1e6).toFixed(1)} M values), ${jobs.reduce((n, j) => n + j.errors, 0)} errors, ${livePoints} live frames`);
  console.log(`  acked latency p50 ${percentile(lat, 50).toFixed(1)} ms, p99 ${percentile(lat, 99).toFixed(1)} ms, max ${(lat[lat.length - 1] ?? NaN).toFixed(1)} ms`);
  console.log('  RSS over time:');
  const every = Math.max(1, Math.floor(samples.length / 12));
  samples.forEach((s, i) => { if (i % every === 0 || i === samples.length - 1) console.log(`    ${s.t.toFixed(0).padStart(5)} s  ${s.rss.toFixed(0).padStart(5)} MB  (${s.acked} acked)`); });
  const half = samples.slice(Math.floor(samples.length / 2));
  const mean = (xs: typeof samples) => xs.reduce((n, s) => n + s.rss, 0) / Math.max(1, xs.length);
  const q2 = mean(samples.slice(Math.floor(samples.length / 4), Math.floor(samples.length / 2)));
  const q4 = mean(samples.slice(Math.floor((3 * samples.length) / 4)));
  const first = half[0];
  const last = half[half.length - 1];
  const slope = first && last && last.t > first.t ? ((last.rss - first.rss) / (last.t - first.t)) * 60 : 0;
  console.log(`  RSS second quarter ${q2.toFixed(0)} MB, last quarter ${q4.toFixed(0)} MB, slope over the second half ${slope.toFixed(1)} MB/min: ${q4 <= q2 * 1.1 + 5 ? 'flat' : 'GROWING'}`);
} finally {
  await srv.stop();
}
