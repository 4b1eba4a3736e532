import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestClient } from '@gradwatch/client';
import { freePort } from '../../../tools/net.js';
import { getJson, removeDir, startServer, type TestServer } from '../helpers.js';

let srv: TestServer;
let hookServer: Server;
let hookUrl: string;
const received: Array<{ event: string; text: string; runId?: string; alert?: { rule: string; runId: string } }> = [];
let failuresLeft = 2;

beforeAll(async () => {
  // Its receivers listen on loopback, which webhooks may call only when allowed by name.
  srv = await startServer({ env: { GRADWATCH_WEBHOOK_RETRY_MS: '20', GRADWATCH_WEBHOOK_ALLOW_HOSTS: '127.0.0.1' } });
  hookServer = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (failuresLeft-- > 0) {
        res.writeHead(500).end('not yet');
        return;
      }
      received.push(JSON.parse(body) as (typeof received)[number]);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  await srv.close();
  hookServer.close();
  removeDir(srv.dataDir);
});

const post = (path: string, body: unknown) =>
  getJson<{ id: number }>(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function until(pred: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('webhooks', () => {
  it('delivers alert events with a Slack-compatible text, retrying with back-off, and shows failures', async () => {
    expect((await post('/api/v1/projects/hooked/webhooks', { url: 'ftp://example/x' })).status).toBe(400);
    const good = await post('/api/v1/projects/hooked/webhooks', { url: hookUrl });
    expect(good.status).toBe(201);
    const deadPort = await freePort();
    const dead = await post('/api/v1/projects/hooked/webhooks', { url: `http://127.0.0.1:${deadPort}/nobody` });

    const c = new IngestClient({ url: srv.wsUrl, run: { id: 'hook-1', project: 'hooked', name: 'nan run' } });
    await c.connect();
    c.step({ step: 0, scalars: { loss: 1 } });
    c.step({ step: 1, scalars: { loss: 'NaN' } });
    await c.end('failed');
    c.close();

    await until(() => received.some((r) => r.event === 'alert.opened' && r.alert?.rule === 'nan.detected'));
    const msg = received.find((r) => r.event === 'alert.opened' && r.alert?.rule === 'nan.detected');
    expect(msg).toMatchObject({ event: 'alert.opened', alert: { runId: 'hook-1' } });
    expect(msg?.text).toMatch(/^\[CRITICAL\] nan\.detected on run hook-1 \(hooked\) at step 1\./);

    // The run ended: its open alert closes "ended with the run", and that is delivered too.
    await until(() => received.some((r) => r.event === 'alert.resolved'));
    expect(received.find((r) => r.event === 'alert.resolved')?.alert).toMatchObject({ rule: 'nan.detected', status: 'resolved', resolvedReason: 'ended with the run' });
    // The run's verdict is sent too, whatever the webhook's alert setting.
    await until(() => received.some((r) => r.event === 'diagnosis.changed'));
    expect(received.find((r) => r.event === 'diagnosis.changed')?.text).toMatch(/^\[CRITICAL\] .* on run hook-1 \(hooked\)/);
    await until(async () => {
      const r = await getJson<{ deliveries: Array<{ status: string }> }>(`${srv.url}/api/v1/projects/hooked/webhooks/${good.body.id}/deliveries`);
      return r.body.deliveries.every((d) => d.status === 'delivered');
    });
    const okDeliveries = await getJson<{ deliveries: Array<{ status: string; attempts: number; event: string; alertId: number | null }> }>(
      `${srv.url}/api/v1/projects/hooked/webhooks/${good.body.id}/deliveries`,
    );
    const delivered = okDeliveries.body.deliveries;
    expect(delivered.filter((d) => d.event.startsWith('alert.')).length).toBe(2);
    expect(delivered.filter((d) => d.event === 'diagnosis.changed').every((d) => d.alertId === null)).toBe(true);
    // The receiver failed twice before answering: two retries in all, each visible.
    expect(delivered.reduce((n, d) => n + d.attempts, 0)).toBe(2 + delivered.length);

    // The dead endpoint: every attempt fails, each visible, until it gives up.
    await until(async () => {
      const r = await getJson<{ deliveries: Array<{ status: string }> }>(`${srv.url}/api/v1/projects/hooked/webhooks/${dead.body.id}/deliveries?status=failed`);
      return r.body.deliveries.length > 0;
    }, 20_000);
    const failed = await getJson<{ deliveries: Array<{ attempts: number; lastError: string }> }>(
      `${srv.url}/api/v1/projects/hooked/webhooks/${dead.body.id}/deliveries?status=failed`,
    );
    expect(failed.body.deliveries[0]?.attempts).toBe(8);
    expect(failed.body.deliveries[0]?.lastError).toMatch(/fetch failed|ECONNREFUSED/);
  }, 30_000);

  it('sends only diagnosis events to a webhook that takes no symptom alerts', async () => {
    const quiet = await post('/api/v1/projects/quiet/webhooks', { url: hookUrl, alerts: false });
    expect(quiet.status).toBe(201);
    expect(quiet.body).toMatchObject({ alerts: false });
    const c = new IngestClient({ url: srv.wsUrl, run: { id: 'quiet-1', project: 'quiet', name: 'nan run' } });
    await c.connect();
    c.step({ step: 0, scalars: { loss: 1 } });
    c.step({ step: 1, scalars: { loss: 'NaN' } });
    await c.end('failed');
    c.close();
    await until(async () => {
      const r = await getJson<{ deliveries: Array<{ status: string }> }>(`${srv.url}/api/v1/projects/quiet/webhooks/${quiet.body.id}/deliveries`);
      return r.body.deliveries.length > 0 && r.body.deliveries.every((d) => d.status === 'delivered');
    });
    const ds = (await getJson<{ deliveries: Array<{ event: string }> }>(`${srv.url}/api/v1/projects/quiet/webhooks/${quiet.body.id}/deliveries`)).body.deliveries;
    expect(ds.map((d) => d.event).every((e) => e === 'diagnosis.changed')).toBe(true);
    expect(received.filter((r) => r.alert?.runId === 'quiet-1')).toEqual([]);
    expect(received.some((r) => r.event === 'diagnosis.changed' && r.runId === 'quiet-1')).toBe(true);
  });

  it('lists and deletes webhooks, 404 for another project', async () => {
    const list = await getJson<{ webhooks: Array<{ id: number }> }>(`${srv.url}/api/v1/projects/hooked/webhooks`);
    expect(list.body.webhooks.length).toBe(2);
    const id = list.body.webhooks[0]?.id as number;
    expect((await getJson(`${srv.url}/api/v1/projects/other/webhooks/${id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await getJson(`${srv.url}/api/v1/projects/hooked/webhooks/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await getJson<{ webhooks: unknown[] }>(`${srv.url}/api/v1/projects/hooked/webhooks`)).body.webhooks.length).toBe(1);
  });
});
