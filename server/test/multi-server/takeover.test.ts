/**
 * Issue 14: a run is leased by the server writing it. When its owner dies (SIGKILL) the job
 * reconnects through another server, which takes the run over and continues it; when the old
 * owner is still alive it can never commit again for the run: its connection is answered
 * `replaced`, and what is stored is exactly what was acked.
 */
import { IngestClient } from '@gradwatch/client';
import type { ServerMsg } from '@gradwatch/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hello, RawSocket } from '../helpers.js';
import { checkStored, exportSeries, PG_URL, sleep, startCluster, stepItem, type Cluster } from './cluster.js';
import type { Proc } from '../reliability/proc.js';

const STEPS_PER_MSG = 5;
/** Message `seq` carries steps from `base`: each writer of a seq sends steps of its own, so the store shows whose landed. */
const steps = (seq: number, base = 0) => ({ type: 'steps', seq, items: Array.from({ length: STEPS_PER_MSG }, (_, i) => stepItem(base + (seq - 1) * STEPS_PER_MSG + i)) });
const stepsOf = (seqs: number[], base = 0) => seqs.flatMap((seq) => Array.from({ length: STEPS_PER_MSG }, (_, i) => base + (seq - 1) * STEPS_PER_MSG + i));
const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe.skipIf(!PG_URL)('a run taken over by another server', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(2);
  }, 120_000);
  afterAll(async () => {
    await cluster?.close();
  });
  const servers = (): [Proc, Proc] => cluster.servers as [Proc, Proc];

  it('after its owner is SIGKILLed: the job reconnects through B and continues; every acked step stored once', async () => {
    const [a, b] = servers();
    const client = new IngestClient({ url: [a.wsUrl, b.wsUrl], run: { id: 'killed-owner', project: 'test', name: 'k' }, batchSize: 5, flushMs: 5, window: 8, maxBackoffMs: 100 });
    await client.connect();
    expect(client.serverUrl).toBe(`${a.wsUrl}/v1/ingest`);
    let step = 0;
    let producing = true;
    const producer = (async () => {
      while (producing) {
        for (let i = 0; i < 5; i++) client.step(stepItem(step++));
        await sleep(10);
      }
    })();
    while (client.lastAckedSeq < 20) await sleep(5);
    await a.kill('SIGKILL');
    const ackedAtKill = client.lastAckedSeq;
    while (client.lastAckedSeq < ackedAtKill + 20) await sleep(5);
    producing = false;
    await producer;
    expect(client.serverUrl).toBe(`${b.wsUrl}/v1/ingest`);
    const report = await client.end('completed', 30_000);
    client.close();
    expect(report.rejected).toBe(0);
    // A is back, on the same database: both servers show the same run.
    const a2 = await cluster.restart(0);
    expect(await checkStored([b.url, a2.url], 'killed-owner', Array.from({ length: step }, (_, i) => i))).toEqual([]);
  });

  it('while the old owner lives: its next message is answered replaced, and it never commits after the takeover', async () => {
    const [a, b] = servers();
    const sa = await RawSocket.open(`${a.wsUrl}/v1/ingest`);
    sa.send(hello('stale-owner'));
    await sa.next((m) => m.type === 'welcome');
    for (let seq = 1; seq <= 5; seq++) sa.send(steps(seq));
    await sa.ack(5);
    // A keeps streaming, pipelined, while B takes the run over in the middle of it.
    const acksOnA: number[] = [];
    sa.ws.on('message', (d: Buffer) => {
      const m = JSON.parse(d.toString()) as ServerMsg;
      if (m.type === 'ack') acksOnA.push(m.seq);
    });
    let seqA = 5;
    const pipelining = (async () => {
      while (sa.closeCode === null && seqA < 200) {
        sa.send(steps(++seqA));
        await sleep(2);
      }
    })();
    await sleep(30);
    const sb = await RawSocket.open(`${b.wsUrl}/v1/ingest`);
    sb.send(hello('stale-owner'));
    const w = (await sb.next((m) => m.type === 'welcome')) as { lastSeq: number };
    // What B took over from: everything A committed, and nothing A commits afterwards.
    const taken = w.lastSeq;
    expect(taken).toBeGreaterThanOrEqual(5);
    // The old owner's next message meets the new lease.
    sa.send(steps(++seqA));
    const err = (await sa.next((m) => m.type === 'error' && m.code === 'replaced')) as { code: string };
    expect(err.code).toBe('replaced');
    await pipelining;
    expect(Math.max(...acksOnA, 5)).toBeLessThanOrEqual(taken);
    // B continues the run with steps of its own from the next seq.
    const BASE = 100_000;
    for (let seq = taken + 1; seq <= taken + 10; seq++) sb.send(steps(seq, BASE));
    await sb.ack(taken + 10);
    sb.send({ type: 'end', seq: taken + 11, status: 'completed' });
    await sb.ack(taken + 11);
    sb.close();
    await sleep(200);
    // Exactly A's messages 1..taken and B's after them, through either server.
    const want = [...stepsOf(upTo(taken)), ...stepsOf(upTo(taken + 10).slice(taken), BASE)];
    expect(await checkStored([a.url, b.url], 'stale-owner', want)).toEqual([]);
    expect((await exportSeries(a.url, 'stale-owner', 'loss')).length).toBe(want.length);
  });

  it('a stale owner whose job says hello again takes the run back, from what B committed', async () => {
    const [a, b] = servers();
    const sa = await RawSocket.open(`${a.wsUrl}/v1/ingest`);
    sa.send(hello('ping-pong'));
    await sa.next((m) => m.type === 'welcome');
    sa.send(steps(1));
    await sa.ack(1);
    const sb = await RawSocket.open(`${b.wsUrl}/v1/ingest`);
    sb.send(hello('ping-pong'));
    expect(await sb.next((m) => m.type === 'welcome')).toMatchObject({ lastSeq: 1 });
    sb.send(steps(2));
    await sb.ack(2);
    // A new connection to A (A still remembers the run at seq 1) must start from 2, not 1.
    const sa2 = await RawSocket.open(`${a.wsUrl}/v1/ingest`);
    sa2.send(hello('ping-pong'));
    expect(await sa2.next((m) => m.type === 'welcome')).toMatchObject({ lastSeq: 2, lastStep: 9 });
    sa2.send(steps(3));
    await sa2.ack(3);
    // B's connection is now the stale one: in B's memory seq 3 is still free, but A stored it.
    sb.send(steps(3, 50_000));
    expect(await sb.next((m) => m.type === 'error')).toMatchObject({ code: 'replaced' });
    for (const s of [sa, sb, sa2]) s.close();
    expect(await checkStored([a.url, b.url], 'ping-pong', stepsOf([1, 2, 3]))).toEqual([]);
  });
});
