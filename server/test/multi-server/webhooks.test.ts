/**
 * Issue 14: with two servers polling one outbox, each webhook delivery is sent exactly once
 * (claimed with FOR UPDATE SKIP LOCKED). A local receiver answers 500 to the first attempt of
 * every delivery, so retries race between the servers too; then each delivery must have been
 * answered 200 exactly once, and each alert event must be one delivery.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hello, RawSocket } from '../helpers.js';
import { getJson, PG_URL, sleep, startCluster, stepItem, valueOf, type Cluster } from './cluster.js';
import type { Proc } from '../reliability/proc.js';

interface Received {
  delivery: string;
  event: string;
  alertId: number | null;
  answered: number;
}

describe.skipIf(!PG_URL)('webhooks with two servers', () => {
  let cluster: Cluster;
  let receiver: Server;
  const received: Received[] = [];
  let hookUrl = '';
  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const delivery = String(req.headers['x-gradwatch-delivery']);
        const p = JSON.parse(body) as { event: string; alert?: { id: number } };
        const first = !received.some((r) => r.delivery === delivery);
        const answered = first ? 500 : 200;
        received.push({ delivery, event: p.event, alertId: p.alert?.id ?? null, answered });
        // A slow answer widens the window in which the other server could pick it up again.
        setTimeout(() => res.writeHead(answered).end(), 100);
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    cluster = await startCluster(2, { GRADWATCH_WEBHOOK_ALLOW_HOSTS: '127.0.0.1', GRADWATCH_WEBHOOK_RETRY_MS: '50' });
  }, 120_000);
  afterAll(async () => {
    await cluster?.close();
    receiver?.close();
  });

  it('delivers each alert event exactly once', async () => {
    const [a, b] = cluster.servers as [Proc, Proc];
    const made = await getJson<{ id: number }>(`${a.url}/api/v1/projects/hooks/webhooks`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: hookUrl }),
    });
    // Runs through both servers, each with a NaN loss: alerts open on both, and resolve at the end.
    const RUNS = 4;
    await Promise.all(Array.from({ length: RUNS }, async (_, r) => {
      const srv = r % 2 === 0 ? a : b;
      const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
      s.send(hello(`hook-${r}`, { run: { id: `hook-${r}`, project: 'hooks', name: `hook ${r}` } }));
      await s.next((m) => m.type === 'welcome');
      for (let seq = 1; seq <= 10; seq++) s.send({ type: 'steps', seq, items: [stepItem(seq, seq === 5 ? Number.NaN : valueOf(seq, 0))] });
      s.send({ type: 'end', seq: 11, status: 'completed' });
      await s.ack(11);
      s.close();
    }));

    // Until the outbox is settled, then a while longer: a repeat would show up in that time.
    const deliveries = async () => (await getJson<{ deliveries: Array<{ id: number; status: string; attempts: number; alertId: number | null; event: string }> }>(`${b.url}/api/v1/projects/hooks/webhooks/${made.id}/deliveries?limit=500`)).deliveries;
    let list = await deliveries();
    for (let i = 0; i < 300 && (list.length === 0 || list.some((d) => d.status !== 'delivered')); i++) {
      await sleep(100);
      list = await deliveries();
    }
    await sleep(3000);
    list = await deliveries();

    expect(list.length).toBeGreaterThan(0);
    expect(list.filter((d) => d.status !== 'delivered')).toEqual([]);
    // Every delivery: one failed attempt, one successful, never a third.
    const byDelivery = new Map<string, Received[]>();
    for (const r of received) byDelivery.set(r.delivery, [...(byDelivery.get(r.delivery) ?? []), r]);
    expect(byDelivery.size).toBe(list.length);
    for (const [id, rs] of byDelivery) expect({ id, answers: rs.map((r) => r.answered) }).toEqual({ id, answers: [500, 200] });
    for (const d of list) expect(d.attempts).toBe(2);
    // One delivery per alert event: each run's NaN alert opened and resolved once.
    const events = new Map<string, number>();
    for (const r of received.filter((x) => x.answered === 200 && x.alertId !== null)) events.set(`${r.alertId}:${r.event}`, (events.get(`${r.alertId}:${r.event}`) ?? 0) + 1);
    expect([...events.values()].every((n) => n === 1)).toBe(true);
    const opened = received.filter((x) => x.answered === 200 && x.event === 'alert.opened').length;
    expect(opened).toBeGreaterThanOrEqual(RUNS);
    console.log(`webhooks: ${list.length} deliveries (${opened} alert.opened), ${received.length} requests received`);
  });
});
