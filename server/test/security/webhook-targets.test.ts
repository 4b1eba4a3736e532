/**
 * Webhooks cannot make the server call itself or its network: loopback, link-local (the cloud
 * metadata address), private and reserved targets are refused at creation (400, nothing
 * stored) and again at delivery, on the resolved address; a redirect is never followed.
 * Hosts named in GRADWATCH_WEBHOOK_ALLOW_HOSTS are let through. Every delivery is signed
 * with the webhook's secret, shown once, at creation.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { getJson, hello, RawSocket, removeDir, startServer, type TestServer } from '../helpers.js';
import { sqliteOf } from '../sqlite-access.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  url: string;
}

interface Receiver {
  server: Server;
  port: number;
  received: Received[];
}

const receivers: Receiver[] = [];
const servers: TestServer[] = [];

async function receiver(answer: (req: Received) => { status: number; headers?: Record<string, string> } = () => ({ status: 204 })): Promise<Receiver> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const r = { headers: req.headers, body, url: req.url ?? '' };
      received.push(r);
      const a = answer(r);
      res.writeHead(a.status, a.headers).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const rc = { server, port: (server.address() as AddressInfo).port, received };
  receivers.push(rc);
  return rc;
}

async function server(env: Record<string, string> = {}): Promise<TestServer> {
  const s = await startServer({ env: { GRADWATCH_WEBHOOK_RETRY_MS: '20', ...env } });
  servers.push(s);
  return s;
}

afterEach(async () => {
  for (const s of servers.splice(0)) {
    await s.close();
    removeDir(s.dataDir);
  }
});
afterAll(() => {
  for (const r of receivers) r.server.close();
});

const create = (srv: TestServer, url: string, project = 'hooks') =>
  getJson<{ id: number; secret?: string; message?: string }>(`${srv.url}/api/v1/projects/${project}/webhooks`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url }),
  });

/** Raises one critical alert (a NaN loss) in the project, which queues one delivery per webhook. */
async function raiseAlert(srv: TestServer, run: string, project = 'hooks'): Promise<void> {
  const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
  s.send(hello(run, { run: { id: run, project, name: run } }));
  await s.next((m) => m.type === 'welcome');
  s.send({ type: 'steps', seq: 1, items: [{ step: 1, time: 1_800_000_000, epoch: 0, scalars: { loss: 'NaN' } }] });
  await s.ack(1);
  s.close();
}

async function deliveriesOf(srv: TestServer, id: number, project = 'hooks') {
  return (await getJson<{ deliveries: Array<{ status: string; attempts: number; lastError: string | null; lastStatus: number | null }> }>(
    `${srv.url}/api/v1/projects/${project}/webhooks/${id}/deliveries`,
  )).body.deliveries;
}

async function until(pred: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('webhook targets', () => {
  it('refuses loopback, link-local, private and reserved targets at creation, however spelled, and stores none', async () => {
    const srv = await server();
    const rc = await receiver();
    const refused = [
      `http://127.0.0.1:${rc.port}/hook`, 'http://0x7f000001/', 'http://2130706433/', 'http://127.1/', 'http://0177.0.0.1/', `http://localhost:${rc.port}/`,
      'http://169.254.169.254/latest/meta-data/', 'http://[::1]/', 'http://[::ffff:127.0.0.1]/', 'http://[::ffff:a9fe:a9fe]/', 'http://[fe80::1]/',
      'http://[fd00::1]/', 'http://10.0.0.1/', 'http://172.16.5.4/', 'http://192.168.1.1/', 'http://100.64.0.1/', 'http://0.0.0.0/', 'http://[::]/',
      'https://224.0.0.1/', 'http://255.255.255.255/', 'http://[64:ff9b::7f00:1]/', 'http://[2002:7f00:1::]/',
      'http://no-such-host.invalid/',
    ];
    const failures: string[] = [];
    for (const url of refused) {
      const r = await create(srv, url);
      if (r.status !== 400 || !/refused/.test(r.body.message ?? '')) failures.push(`${url}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    expect(failures).toEqual([]);
    expect((await create(srv, 'http://169.254.169.254/')).body.message).toMatch(/GRADWATCH_WEBHOOK_ALLOW_HOSTS/);
    expect((await getJson(`${srv.url}/api/v1/projects/hooks/webhooks`)).status).toBe(404); // not even the project was made
  });

  it('lets through hosts named in GRADWATCH_WEBHOOK_ALLOW_HOSTS, and only those', async () => {
    const srv = await server({ GRADWATCH_WEBHOOK_ALLOW_HOSTS: ' LocalHost , 10.9.8.7' });
    const rc = await receiver();
    expect((await create(srv, `http://localhost:${rc.port}/hook`)).status).toBe(201);
    expect((await create(srv, 'http://10.9.8.7/hook')).status).toBe(201);
    expect((await create(srv, `http://127.0.0.1:${rc.port}/hook`)).status).toBe(400);
    expect((await create(srv, 'http://10.9.8.6/hook')).status).toBe(400);
  });

  it('checks again at delivery: a stored target that is now private is not called', async () => {
    const srv = await server();
    const rc = await receiver();
    // A webhook whose name resolved to a public address when it was made: written as if so.
    const projectId = (await srv.app.projects.ensure('hooks')).id;
    const row = sqliteOf(srv.app)
      .prepare("INSERT INTO webhooks (project_id, url, created_at, secret) VALUES (?, ?, ?, 'k') RETURNING id")
      .get(projectId, `http://localhost:${rc.port}/rebound`, new Date().toISOString()) as { id: number };
    srv.app.webhooks.invalidate(projectId);
    await raiseAlert(srv, 'rebind-run');
    await until(async () => (await deliveriesOf(srv, row.id)).some((d) => d.attempts >= 2));
    const [d] = await deliveriesOf(srv, row.id);
    expect(d?.lastError).toMatch(/resolves to (127\.0\.0\.1|::1), which is a loopback/);
    expect(rc.received).toEqual([]);
  });

  it('does not follow a redirect, to a private address or anywhere', async () => {
    const inner = await receiver();
    const outer = await receiver(() => ({ status: 302, headers: { location: `http://127.0.0.1:${inner.port}/steal` } }));
    const srv = await server({ GRADWATCH_WEBHOOK_ALLOW_HOSTS: 'localhost' });
    const hook = await create(srv, `http://localhost:${outer.port}/hook`);
    expect(hook.status).toBe(201);
    await raiseAlert(srv, 'redirect-run');
    await until(async () => (await deliveriesOf(srv, hook.body.id)).some((d) => d.attempts >= 2));
    const [d] = await deliveriesOf(srv, hook.body.id);
    expect(d).toMatchObject({ status: 'pending', lastStatus: 302, lastError: expect.stringMatching(/redirects are not followed/) });
    expect(outer.received.length).toBeGreaterThanOrEqual(2);
    expect(inner.received).toEqual([]);
  });
});

describe('webhook signatures', () => {
  it('signs each delivery with the secret shown once at creation: HMAC-SHA256 of the raw body', async () => {
    const rc = await receiver();
    const srv = await server({ GRADWATCH_WEBHOOK_ALLOW_HOSTS: '127.0.0.1' });
    const a = await create(srv, `http://127.0.0.1:${rc.port}/a`);
    const b = await create(srv, `http://127.0.0.1:${rc.port}/b`);
    expect(a.status).toBe(201);
    expect(a.body.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(b.body.secret).not.toBe(a.body.secret);
    const listed = await getJson(`${srv.url}/api/v1/projects/hooks/webhooks`);
    expect(JSON.stringify(listed.body)).not.toContain(a.body.secret as string);

    await raiseAlert(srv, 'signed-run');
    await until(() => rc.received.length >= 2);
    for (const [path, secret] of [['/a', a.body.secret], ['/b', b.body.secret]] as const) {
      const got = rc.received.find((r) => r.url === path);
      expect(got, path).toBeDefined();
      const expected = `sha256=${createHmac('sha256', secret as string).update(got?.body ?? '').digest('hex')}`;
      expect(got?.headers['x-gradwatch-signature']).toBe(expected);
      expect(got?.headers['x-gradwatch-delivery']).toMatch(/^[0-9]+$/);
      expect(JSON.parse(got?.body ?? '{}')).toMatchObject({ event: 'alert.opened', alert: { runId: 'signed-run' } });
    }
    // A signature made with the other webhook's secret does not verify: the secrets are per webhook.
    const gotA = rc.received.find((r) => r.url === '/a');
    expect(gotA?.headers['x-gradwatch-signature']).not.toBe(`sha256=${createHmac('sha256', b.body.secret as string).update(gotA?.body ?? '').digest('hex')}`);
  });
});
