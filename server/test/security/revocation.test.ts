/**
 * Revoking a token, or its expiry, ends the sockets it opened, not only later requests: an
 * ingest socket stops being acked and a live socket stops receiving points, each told why
 * with an `unauthorized` error frame and closed with 1008, within a second.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hello, RawSocket, removeDir } from '../helpers.js';
import { ROOT } from '../reliability/proc.js';
import { startTenants, type Tenants } from './tenants.js';

let t: Tenants;

beforeAll(async () => {
  t = await startTenants();
});

afterAll(async () => {
  await t.srv.close();
  removeDir(t.srv.dataDir);
});

const closed = (s: RawSocket, ms = 3000): Promise<number> =>
  new Promise((resolve, reject) => {
    if (s.closeCode !== null) return resolve(Date.now());
    const timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
    s.ws.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now());
    });
  });

async function openIngest(run: string, project: string, token: string): Promise<{ s: RawSocket; seq: number }> {
  const s = await RawSocket.open(`${t.srv.wsUrl}/v1/ingest`);
  s.send(hello(run, { token, run: { id: run, project, name: run } }));
  const w = (await s.next((m) => m.type === 'welcome')) as { lastSeq: number };
  return { s, seq: w.lastSeq };
}

/** A message predicate by type, for live messages too (RawSocket types them as ingest ones). */
const is = (type: string) => (m: { type: string }) => m.type === type;

const step = (seq: number) => ({ type: 'steps', seq, items: [{ step: seq, time: 1_800_000_000 + seq, epoch: 0, scalars: { loss: 1 / seq } }] });

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'server/src/cli/token.ts'), ...args, '--data-dir', t.srv.dataDir], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('revocation reaches open sockets', () => {
  it('closes an ingest socket at once when its token is revoked through the API: no ack after it', async () => {
    const { id, token } = await t.createToken('ingest', 'pa');
    const { s, seq: first } = await openIngest('rev-ingest', 'pa', token);
    let seq = first;
    s.send(step(++seq));
    await s.ack(seq);
    const revoked = await t.call('DELETE', `/api/v1/tokens/${id}`, t.tok.admin);
    expect(revoked.status).toBe(204);
    const at = Date.now();
    expect(await s.error()).toMatchObject({ type: 'error', code: 'unauthorized', message: expect.stringMatching(/revoked/) });
    expect((await closed(s)) - at).toBeLessThan(1000);
    expect(s.closeCode).toBe(1008);
    // Nothing sent on after it is acked: the socket is gone, and the token opens no new one.
    s.send(step(++seq));
    await new Promise((r) => setTimeout(r, 100));
    expect(s.received.filter((m) => m.type === 'ack')).toEqual([]);
    const again = await RawSocket.open(`${t.srv.wsUrl}/v1/ingest`);
    again.send(hello('rev-ingest', { token, run: { id: 'rev-ingest', project: 'pa', name: 'x' } }));
    expect(await again.error()).toMatchObject({ code: 'unauthorized' });
    again.close();
  });

  it('closes a live socket (token in ?token=) when its token is revoked: no points after it', async () => {
    const { id, token } = await t.createToken('read', 'pa');
    const ing = await openIngest('rev-live', 'pa', t.tok.ingestA);
    const live = await RawSocket.open(`${t.srv.wsUrl}/v1/live?token=${token}`);
    live.send({ type: 'subscribe', runs: ['rev-live'] });
    await live.next(is('ready'));
    let seq = ing.seq;
    ing.s.send(step(++seq));
    await ing.s.ack(seq);
    await live.next(is('points'));
    expect((await t.call('DELETE', `/api/v1/tokens/${id}`, t.tok.admin)).status).toBe(204);
    const at = Date.now();
    expect(await live.error()).toMatchObject({ code: 'unauthorized' });
    expect((await closed(live)) - at).toBeLessThan(1000);
    ing.s.send(step(++seq));
    await ing.s.ack(seq);
    await new Promise((r) => setTimeout(r, 300));
    expect(live.received.filter(is('points'))).toEqual([]);
    ing.s.close();
  });

  it('closes a live socket authenticated by an auth message, and only the sockets of that token', async () => {
    const victim = await t.createToken('read');
    const bystander = await t.createToken('read');
    const a = await RawSocket.open(`${t.srv.wsUrl}/v1/live`);
    a.send({ type: 'auth', token: victim.token });
    await a.next(is('ready'));
    const b = await RawSocket.open(`${t.srv.wsUrl}/v1/live?token=${bystander.token}`);
    b.send({ type: 'subscribe', runs: ['*'] });
    await b.next(is('ready'));
    expect((await t.call('DELETE', `/api/v1/tokens/${victim.id}`, t.tok.admin)).status).toBe(204);
    await closed(a);
    expect(a.closeCode).toBe(1008);
    await new Promise((r) => setTimeout(r, 300));
    expect(b.closeCode).toBeNull();
    b.send({ type: 'subscribe', runs: ['rev-live'] });
    await b.next(is('ready'));
    b.close();
  });

  it('closes an open socket within a second of a revocation by the CLI, another process on the same file', async () => {
    const { id, token } = await t.createToken('ingest', 'pa');
    const { s } = await openIngest('rev-cli', 'pa', token);
    const r = cli('revoke', String(id));
    expect(r.status, r.stderr).toBe(0);
    const at = Date.now();
    expect(await s.error()).toMatchObject({ code: 'unauthorized' });
    expect((await closed(s)) - at).toBeLessThan(1000);
  });
});

describe('token expiry', () => {
  it('refuses a token after its expiresAt, on REST and on the sockets it opened, within a second', async () => {
    const expiresAt = new Date(Date.now() + 2000).toISOString();
    const created = await t.createToken('admin', 'pa', { expiresAt });
    expect(created).toMatchObject({ expiresAt });
    const listed = (await t.call('GET', '/api/v1/tokens', t.tok.admin)).body as { tokens: Array<{ id: number; expiresAt: string | null }> };
    expect(listed.tokens.find((x) => x.id === created.id)?.expiresAt).toBe(expiresAt);
    const ing = await openIngest('exp-ingest', 'pa', created.token);
    const live = await RawSocket.open(`${t.srv.wsUrl}/v1/live?token=${created.token}`);
    live.send({ type: 'subscribe', runs: ['exp-ingest'] });
    await live.next(is('ready'));
    expect((await t.call('GET', '/api/v1/runs', created.token)).status).toBe(200);
    const [ingClosed, liveClosed] = await Promise.all([closed(ing.s, 5000), closed(live, 5000)]);
    for (const at of [ingClosed, liveClosed]) {
      expect(at).toBeGreaterThanOrEqual(Date.parse(expiresAt));
      expect(at - Date.parse(expiresAt)).toBeLessThan(1000);
    }
    expect(ing.s.received.find((m) => m.type === 'error')).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/expired/) });
    const after = await t.call('GET', '/api/v1/runs', created.token);
    expect(after.status).toBe(401);
    expect((after.body as { message: string }).message).toMatch(/expired/);
  });

  it('refuses an expiresAt in the past or unreadable with a 400, and stores nothing', async () => {
    const before = ((await t.call('GET', '/api/v1/tokens', t.tok.admin)).body as { tokens: unknown[] }).tokens.length;
    for (const expiresAt of ['2001-01-01T00:00:00Z', 'tomorrow', '2030-13-01T00:00:00Z', '']) {
      const r = await t.call('POST', '/api/v1/tokens', t.tok.admin, { scope: 'read', name: 'x', expiresAt });
      expect(r.status, expiresAt).toBe(400);
    }
    expect(((await t.call('GET', '/api/v1/tokens', t.tok.admin)).body as { tokens: unknown[] }).tokens.length).toBe(before);
  });

  it('takes --expires on the CLI as a time or a duration', async () => {
    const made = cli('create', '--scope', 'read', '--expires', '30d', '--json');
    expect(made.status, made.stderr).toBe(0);
    const info = JSON.parse(made.stdout) as { expiresAt: string };
    expect(Math.abs(Date.parse(info.expiresAt) - (Date.now() + 30 * 86_400_000))).toBeLessThan(60_000);
    const at = cli('create', '--scope', 'read', '--expires', '2099-01-01T00:00:00+01:00', '--json');
    expect((JSON.parse(at.stdout) as { expiresAt: string }).expiresAt).toBe('2098-12-31T23:00:00.000Z');
    const past = cli('create', '--scope', 'read', '--expires', '2001-01-01T00:00:00Z');
    expect(past.status).toBe(2);
    expect(past.stderr).toMatch(/not in the future/);
    expect(cli('create', '--scope', 'read', '--expires', 'soon').status).toBe(2);
    const listed = (await t.call('GET', '/api/v1/tokens', t.tok.admin)).body as { tokens: Array<{ expiresAt: string | null }> };
    expect(listed.tokens.map((x) => x.expiresAt)).toContain('2098-12-31T23:00:00.000Z');
  });
});
