/**
 * Issue 14: live fan-out across servers. A browser-like live socket on B, subscribed to a run
 * ingested through A, receives its points, the run's changes and its alerts (a NaN loss opens
 * one). Prints the A-ingest → B-live latency (target p99 < 250 ms) and holds it to a generous
 * bound, since CI machines are small and shared.
 */
import type { LiveServerMsg } from '@gradwatch/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hello, RawSocket } from '../helpers.js';
import { PG_URL, sleep, startCluster, stepItem, valueOf, type Cluster } from './cluster.js';
import type { Proc } from '../reliability/proc.js';

const MESSAGES = 80;
const NAN_STEP = 40;
/** Generous: the target is 250 ms on a quiet machine; CI shares two cores with both servers and PostgreSQL. */
const P99_BOUND_MS = 1500;

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

describe.skipIf(!PG_URL)('live fan-out across servers', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(2);
  }, 120_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('a live socket on B gets the points, run changes and alerts of a run ingested through A', async () => {
    const [a, b] = cluster.servers as [Proc, Proc];
    const live = await RawSocket.open(`${b.wsUrl}/v1/live`);
    const firstSeen = new Map<number, number>();
    const lossSeen = new Map<number, number | string>();
    const runMsgs: Array<{ status: string; lastStep: number | null }> = [];
    const alerts: Array<{ rule: string; runId: string }> = [];
    live.ws.on('message', (d: Buffer) => {
      const m = JSON.parse(d.toString()) as LiveServerMsg;
      const now = performance.now();
      if (m.type === 'points' && m.runId === 'fan-out') {
        for (const [s, v] of m.series.loss ?? []) {
          if (!firstSeen.has(s)) firstSeen.set(s, now);
          lossSeen.set(s, v);
        }
      } else if (m.type === 'run' && m.runId === 'fan-out') runMsgs.push(m);
      else if (m.type === 'alert') alerts.push(m.alert);
    });
    live.send({ type: 'subscribe', runs: ['fan-out'] });
    await live.next((m) => (m as unknown as LiveServerMsg).type === 'ready');

    const ingest = await RawSocket.open(`${a.wsUrl}/v1/ingest`);
    ingest.send(hello('fan-out'));
    await ingest.next((m) => m.type === 'welcome');
    const sentAt = new Map<number, number>();
    // One step a message, 40 messages a second: each step's trip is timed on its own.
    for (let seq = 1; seq <= MESSAGES; seq++) {
      const step = seq - 1;
      sentAt.set(step, performance.now());
      ingest.send({ type: 'steps', seq, items: [stepItem(step, step === NAN_STEP ? Number.NaN : valueOf(step, 0))] });
      await sleep(25);
    }
    await ingest.ack(MESSAGES);
    ingest.send({ type: 'end', seq: MESSAGES + 1, status: 'completed' });
    await ingest.ack(MESSAGES + 1);
    for (let i = 0; i < 200 && !(firstSeen.size === MESSAGES && runMsgs.at(-1)?.status === 'completed'); i++) await sleep(20);
    ingest.close();
    live.close();

    // Every point, once seen, with the value sent (the NaN as the protocol's marker).
    expect(firstSeen.size).toBe(MESSAGES);
    for (const [s, v] of lossSeen) expect(v).toEqual(s === NAN_STEP ? 'NaN' : valueOf(s, 0));
    // The run's changes: live while streaming, completed at the end, with its last step.
    expect(runMsgs.some((r) => r.status === 'live')).toBe(true);
    expect(runMsgs.at(-1)).toMatchObject({ status: 'completed', lastStep: MESSAGES - 1 });
    // The NaN loss opened an alert on A; B's socket heard of it.
    expect(alerts.some((x) => x.runId === 'fan-out' && x.rule === 'nan.detected')).toBe(true);

    const lat = [...firstSeen].map(([s, t]) => t - (sentAt.get(s) as number)).sort((x, y) => x - y);
    const p50 = percentile(lat, 50);
    const p99 = percentile(lat, 99);
    console.log(`A-ingest -> B-live latency over ${lat.length} steps: p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${(lat.at(-1) ?? 0).toFixed(0)} ms (target p99 < 250 ms)`);
    expect(p99).toBeLessThan(P99_BOUND_MS);
  });
});
