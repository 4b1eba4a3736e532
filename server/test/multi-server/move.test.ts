/**
 * Issue 14: a training job moved between two servers on one PostgreSQL database mid-run
 * continues on the other from the committed lastSeq, with nothing lost or duplicated, as read
 * back through either server's REST API.
 */
import { IngestClient } from '@gradwatch/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hello, RawSocket } from '../helpers.js';
import { checkStored, PG_URL, sleep, startCluster, stepItem, type Cluster } from './cluster.js';

const STEPS_PER_MSG = 5;
const steps = (seq: number) => ({ type: 'steps', seq, items: Array.from({ length: STEPS_PER_MSG }, (_, i) => stepItem((seq - 1) * STEPS_PER_MSG + i)) });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe.skipIf(!PG_URL)('a job moved between servers mid-run', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(2);
  }, 120_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('continues on the other server from the committed lastSeq: nothing lost, nothing stored twice', async () => {
    const [a, b] = cluster.servers as [NonNullable<Cluster['servers'][0]>, NonNullable<Cluster['servers'][0]>];
    const sa = await RawSocket.open(`${a.wsUrl}/v1/ingest`);
    sa.send(hello('move-raw'));
    expect(await sa.next((m) => m.type === 'welcome')).toMatchObject({ lastSeq: 0 });
    for (let seq = 1; seq <= 20; seq++) sa.send(steps(seq));
    await sa.ack(10);
    // Cut with messages still in flight: some of 11..20 may commit on A, the rest never will.
    sa.ws.terminate();

    const sb = await RawSocket.open(`${b.wsUrl}/v1/ingest`);
    sb.send(hello('move-raw'));
    const w = (await sb.next((m) => m.type === 'welcome')) as { lastSeq: number; lastStep?: number };
    expect(w.lastSeq).toBeGreaterThanOrEqual(10);
    expect(w.lastSeq).toBeLessThanOrEqual(20);
    expect(w.lastStep).toBe(w.lastSeq * STEPS_PER_MSG - 1);
    // The job re-sends everything after lastSeq, then goes on.
    for (let seq = w.lastSeq + 1; seq <= 30; seq++) sb.send(steps(seq));
    await sb.ack(30);
    // A re-send of an old seq is acked without being stored again.
    sb.send(steps(3));
    await sb.ack(3);

    // And back to A, whose memory of the run is stale: it restores the run from the database.
    sb.close();
    const sa2 = await RawSocket.open(`${a.wsUrl}/v1/ingest`);
    sa2.send(hello('move-raw'));
    expect(await sa2.next((m) => m.type === 'welcome')).toMatchObject({ lastSeq: 30, lastStep: 149 });
    sa2.send(steps(31));
    await sa2.ack(31);
    sa2.send({ type: 'end', seq: 32, status: 'completed' });
    await sa2.ack(32);
    sa2.close();

    expect(await checkStored([a.url, b.url], 'move-raw', range(31 * STEPS_PER_MSG))).toEqual([]);
  });

  it('the TS client with both URLs moves at every lost connection; every step stored once', async () => {
    const [a, b] = cluster.servers as [NonNullable<Cluster['servers'][0]>, NonNullable<Cluster['servers'][0]>];
    const client = new IngestClient({ url: [a.wsUrl, b.wsUrl], run: { id: 'move-client', project: 'test', name: 'move' }, batchSize: 5, flushMs: 5, window: 8, maxBackoffMs: 100 });
    await client.connect();
    const servedBy = new Set<string>();
    let step = 0;
    for (let move = 0; move < 6; move++) {
      const acked = client.lastAckedSeq;
      for (let i = 0; i < 40; i++) client.step(stepItem(step++));
      // Some of it acked, some still in flight when the connection is lost.
      while (client.lastAckedSeq === acked) await sleep(2);
      servedBy.add(client.serverUrl);
      const welcomed = new Promise((r) => client.once('welcome', r));
      client.dropConnection();
      await welcomed;
    }
    const report = await client.end('completed', 30_000);
    client.close();
    expect(report.rejected).toBe(0);
    expect(client.connects).toBeGreaterThanOrEqual(7);
    expect(servedBy.size).toBe(2);
    expect(await checkStored([a.url, b.url], 'move-client', range(step))).toEqual([]);
    const run = (await (await fetch(`${b.url}/api/v1/runs/move-client`)).json()) as { status: string; lastStep: number };
    expect(run).toMatchObject({ status: 'completed', lastStep: step - 1 });
  });
});
