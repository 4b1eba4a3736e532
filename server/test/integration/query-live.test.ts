import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { IngestClient } from '@gradwatch/client';
import { decodeNum, type Bucket, type LiveServerMsg, type QueryResult } from '@gradwatch/shared';
import { FRAME_MS } from '../../src/live/hub.js';
import { getJson, noRules, removeDir, startServer, type TestServer } from '../helpers.js';

let srv: TestServer;
const STEPS = 5000;
/** Deterministic, irregular values: a few non-finite, steps with gaps. */
const steps = Array.from({ length: STEPS }, (_, i) => i * 3 + (i % 7 === 0 ? 1 : 0));
function valueAt(i: number): number {
  if (i % 997 === 13) return Number.NaN;
  if (i % 1499 === 7) return Number.POSITIVE_INFINITY;
  if (i % 2003 === 11) return Number.NEGATIVE_INFINITY;
  return Math.sin(i * 0.37) * 100 + (i % 13);
}

/** The exact envelope of the recorded points with steps in [from, to]. */
function envelope(from: number, to: number): Omit<Bucket, 'fromStep' | 'toStep'> & { fromStep: number | null; toStep: number | null } {
  let count = 0, nan = 0, posInf = 0, negInf = 0, min = Infinity, max = -Infinity;
  let last: Bucket['last'] = 0;
  let first: number | null = null, lastStep: number | null = null;
  steps.forEach((step, i) => {
    if (step < from || step > to) return;
    const v = valueAt(i);
    first ??= step;
    lastStep = step;
    count++;
    last = Number.isNaN(v) ? 'NaN' : v === Infinity ? 'Infinity' : v === -Infinity ? '-Infinity' : v;
    if (Number.isNaN(v)) nan++;
    else if (v === Infinity) posInf++;
    else if (v === -Infinity) negInf++;
    else {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
  });
  return { fromStep: first, toStep: lastStep, count, min: min === Infinity ? null : min, max: max === -Infinity ? null : max, last, nan, posInf, negInf };
}

/**
 * What any answer must satisfy: at most maxPoints buckets, in order, not overlapping, covering
 * every point of the range once, each bucket exactly the envelope of the points it spans.
 */
function checkBuckets(got: Bucket[], lo: number, hi: number, maxPoints: number): void {
  expect(got.length).toBeGreaterThan(0);
  expect(got.length).toBeLessThanOrEqual(maxPoints);
  let prev = lo - 1;
  for (const b of got) {
    expect(b.fromStep).toBeGreaterThan(prev);
    expect(b.toStep).toBeGreaterThanOrEqual(b.fromStep);
    expect(b).toEqual(envelope(b.fromStep, b.toStep));
    // Nothing between this bucket and the previous one was left out.
    expect(envelope(prev + 1, b.fromStep - 1).count).toBe(0);
    prev = b.toStep;
  }
  expect(envelope(prev + 1, hi).count).toBe(0);
  expect(got.reduce((n, b) => n + b.count, 0)).toBe(envelope(lo, hi).count);
}

beforeAll(async () => {
  srv = await startServer({ engineFactory: noRules });
  const c = new IngestClient({ url: srv.wsUrl, run: { id: 'q-1', project: 'test', name: 'query' }, batchSize: 100 });
  await c.connect();
  steps.forEach((step, i) => {
    const v = valueAt(i);
    c.step({ step, time: 1000 + step, epoch: Math.floor(step / 3000), scalars: { v: Number.isFinite(v) ? v : (String(v) as 'NaN') } });
  });
  await c.flush(60_000);
  c.close();
}, 60_000);
afterAll(async () => {
  await srv.close();
  removeDir(srv.dataDir);
});

describe('bucketed range queries', () => {
  const cases: Array<[string, number | undefined, number | undefined, number]> = [
    ['whole range, 100 buckets', undefined, undefined, 100],
    ['whole range, 7 buckets (whole chunks merged)', undefined, undefined, 7],
    ['whole range, 2 buckets (rollup windows merged)', undefined, undefined, 2],
    ['a slice cutting rollup windows, 2 buckets', 5000, 14_000, 2],
    ['whole range, 1 bucket', undefined, undefined, 1],
    ['whole range, more buckets than points', undefined, undefined, 10000],
    ['a slice inside sealed chunks', 1000, 2000, 37],
    ['a slice across chunk and tail', 12_000, 14_999, 50],
    ['a slice in the tail only', 14_800, 14_990, 7],
  ];
  for (const [name, from, to, maxPoints] of cases) {
    it(`answers exact envelopes covering every point once: ${name}`, async () => {
      const qs = new URLSearchParams({ series: 'v', maxPoints: String(maxPoints) });
      if (from !== undefined) qs.set('from', String(from));
      if (to !== undefined) qs.set('to', String(to));
      const { status, body } = await getJson<QueryResult>(`${srv.url}/api/v1/runs/q-1/query?${qs}`);
      expect(status).toBe(200);
      const lo = from ?? (steps[0] as number);
      const hi = to ?? (steps[STEPS - 1] as number);
      checkBuckets(body.series[0]?.buckets ?? [], lo, hi, maxPoints);
    });
  }

  it('maps a wall-clock or epoch range to steps', async () => {
    const t = await getJson<QueryResult>(`${srv.url}/api/v1/runs/q-1/query?series=v&x=time&from=1100&to=1200&maxPoints=1000`);
    const inRange = (a: number, b: number) => steps.filter((s) => s >= a && s <= b);
    expect(t.body.fromStep).toBe(inRange(100, 200)[0]);
    expect(t.body.toStep).toBe(inRange(100, 200).at(-1));
    const e = await getJson<QueryResult>(`${srv.url}/api/v1/runs/q-1/query?series=v&x=epoch&from=1&to=1&maxPoints=1`);
    expect(e.body.fromStep).toBe(inRange(3000, 5999)[0]);
    expect(e.body.toStep).toBe(inRange(3000, 5999).at(-1));
  });

  it('reports the first non-finite step of a series', async () => {
    const { body } = await getJson<QueryResult>(`${srv.url}/api/v1/runs/q-1/query?series=v&maxPoints=1`);
    const first = steps.findIndex((_, i) => !Number.isFinite(valueAt(i)));
    expect(body.series[0]?.firstNonFiniteStep).toBe(steps[first]);
  });
});

describe('live socket', () => {
  it('delivers committed points of subscribed series, coalesced, and run changes', async () => {
    const ws = new WebSocket(`${srv.wsUrl}/v1/live`);
    const msgs: LiveServerMsg[] = [];
    ws.on('message', (d: Buffer) => msgs.push(JSON.parse(d.toString()) as LiveServerMsg));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'subscribe', runs: ['live-1'], series: ['loss'] }));
    await new Promise((r) => setTimeout(r, 100));
    expect(msgs).toContainEqual({ type: 'ready' });

    const c = new IngestClient({ url: srv.wsUrl, run: { id: 'live-1', project: 'test', name: 'live' }, batchSize: 5, flushMs: 5 });
    await c.connect();
    const t0 = Date.now();
    for (let s = 0; s < 200; s++) {
      c.step({ step: s, scalars: { loss: s === 150 ? 'NaN' : 1 / (s + 1), lr: 0.1 } });
      if (s % 10 === 0) await new Promise((r) => setTimeout(r, 10));
    }
    await c.flush();
    await new Promise((r) => setTimeout(r, 300));
    const elapsed = Date.now() - t0;
    c.close();
    ws.close();

    const pointFrames = msgs.filter((m) => m.type === 'points');
    const got = pointFrames.flatMap((m) => (m.type === 'points' ? (m.series.loss ?? []) : []));
    expect(got.map(([s]) => s)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(Number.isNaN(decodeNum(got[150]?.[1] as number))).toBe(true);
    // Filtered to the subscribed series only, and coalesced to a frame per FRAME_MS at most.
    expect(pointFrames.every((m) => m.type === 'points' && Object.keys(m.series).join() === 'loss')).toBe(true);
    expect(pointFrames.length).toBeLessThanOrEqual(Math.ceil(elapsed / FRAME_MS) + 2);
    expect(msgs.some((m) => m.type === 'run' && m.runId === 'live-1')).toBe(true);
  });

  it('answers malformed live messages with an error and keeps the socket', async () => {
    const ws = new WebSocket(`${srv.wsUrl}/v1/live`);
    const msgs: LiveServerMsg[] = [];
    ws.on('message', (d: Buffer) => msgs.push(JSON.parse(d.toString()) as LiveServerMsg));
    await new Promise((r) => ws.once('open', r));
    ws.send('not json');
    ws.send(JSON.stringify({ type: 'subscribe', runs: 'q-1' }));
    ws.send(JSON.stringify({ type: 'dance' }));
    ws.send(JSON.stringify({ type: 'subscribe', runs: ['q-1'] }));
    await new Promise((r) => setTimeout(r, 200));
    expect(msgs.map((m) => (m.type === 'error' ? m.code : m.type))).toEqual(['bad_json', 'bad_message', 'unknown_type', 'ready']);
    ws.close();
  });
});
