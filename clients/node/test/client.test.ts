/**
 * The TS client against a real server (real port, real SQLite file): non-finite numbers,
 * refusals, fatal errors, transient faults, the stop command and the server's limits.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { StepItem } from '@gradwatch/shared';
import { GradwatchError, IngestClient, type IngestClientOptions } from '@gradwatch/client';
import type { EngineFactory } from '../../../server/src/ingest/run-sessions.js';
import { getJson, noRules, removeDir, startServer, type TestServer } from '../../../server/test/helpers.js';
import { freePort } from '../../../tools/net.js';

const ADMIN = 'client-test-admin-token-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let servers: TestServer[] = [];
let clients: IngestClient[] = [];
afterEach(async () => {
  for (const c of clients) c.close();
  for (const s of servers) {
    await s.close();
    removeDir(s.dataDir);
  }
  servers = [];
  clients = [];
});

async function server(opts: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const s = await startServer(opts);
  servers.push(s);
  return s;
}

/** A client whose log lines are kept, for the assertions on what a user sees. */
function client(srv: TestServer, id: string, extra: Partial<IngestClientOptions> = {}): { c: IngestClient; lines: string[] } {
  const lines: string[] = [];
  const c = new IngestClient({ url: srv.wsUrl, run: { id, project: 'cli', name: id }, flushMs: 5, log: (l) => lines.push(l), ...extra });
  clients.push(c);
  return { c, lines };
}

async function exportPoints(srv: TestServer, run: string, name: string, token?: string): Promise<Array<[number, number | string]>> {
  const init = token ? { headers: { authorization: `Bearer ${token}` } } : undefined;
  const r = await getJson<{ points: Array<[number, number | string]> }>(`${srv.url}/api/v1/runs/${run}/series/export?name=${encodeURIComponent(name)}`, init);
  expect(r.status).toBe(200);
  return r.body.points;
}

const stats = (v: number) => ({ mean: v, std: 1, meanAbs: 1, min: -1, max: 1 });

describe('non-finite numbers', () => {
  it('are sent as the protocol markers in steps, layer stats, inputs and eval metrics, and stored as such', async () => {
    const srv = await server({ engineFactory: noRules });
    const { c, lines } = client(srv, 'nan-1');
    await c.connect();
    c.step({ step: 0, scalars: { loss: 1, lr: 1e-3 } });
    c.step({ step: 1, scalars: { loss: Number.NaN, lr: Number.POSITIVE_INFINITY }, layers: { fc: { grad: stats(Number.NEGATIVE_INFINITY) } }, inputs: { mean: Number.NaN, std: 1, min: 0, max: 1 } } as StepItem);
    c.eval({ step: 1, split: 'val', metrics: { loss: Number.NaN } } as never);
    const report = await c.end();
    expect(report).toMatchObject({ status: 'completed', rejected: 0, rejectedSteps: 0, acked: 3 });
    expect(c.rejected).toEqual([]);
    expect(lines).toEqual([]);
    expect(await exportPoints(srv, 'nan-1', 'loss')).toEqual([[0, 1], [1, 'NaN']]);
    expect(await exportPoints(srv, 'nan-1', 'lr')).toEqual([[0, 1e-3], [1, 'Infinity']]);
    expect(await exportPoints(srv, 'nan-1', 'layer/fc/grad/mean')).toEqual([[1, '-Infinity']]);
    expect(await exportPoints(srv, 'nan-1', 'inputs/mean')).toEqual([[1, 'NaN']]);
    expect(await exportPoints(srv, 'nan-1', 'eval/val/loss')).toEqual([[1, 'NaN']]);
  });
});

describe('a refused batch', () => {
  it('is logged once with its code and counted in what end() reports; the other steps are stored', async () => {
    const srv = await server({ engineFactory: noRules });
    const { c, lines } = client(srv, 'rej-1', { batchSize: 10 });
    await c.connect();
    const send = (from: number) => {
      for (let s = from; s < from + 10; s++) c.step({ step: s, scalars: { loss: s } });
    };
    send(0);
    send(100);
    send(50); // before step 100: step_order
    send(60); // still before: step_order again
    send(200);
    const report = await c.end();
    expect(report).toEqual({ status: 'completed', acked: 4, rejected: 2, rejectedSteps: 20, rejectedByCode: { step_order: 2 } });
    expect(c.rejected.map((r) => [r.code, r.steps])).toEqual([['step_order', 10], ['step_order', 10]]);
    const refusalLines = lines.filter((l) => l.includes('refused a steps message'));
    expect(refusalLines).toHaveLength(1);
    expect(refusalLines[0]).toMatch(/seq 3; 10 steps, 50–59\): step_order: .*Nothing of it is stored/);
    expect(lines.at(-1)).toMatch(/ended completed: 2 message\(s\) refused \(step_order ×2\), 20 step\(s\) not stored/);
    const from = (a: number) => [...Array(10).keys()].map((k) => a + k);
    expect((await exportPoints(srv, 'rej-1', 'loss')).map(([s]) => s)).toEqual([...from(0), ...from(100), ...from(200)]);
  });
});

describe('fatal errors', () => {
  it('reject connect() on unauthorized and stop retrying', async () => {
    const srv = await server({ engineFactory: noRules, env: { GRADWATCH_ADMIN_TOKEN: ADMIN } });
    const { c, lines } = client(srv, 'auth-1', { token: 'not-a-valid-token-at-all' });
    const t0 = Date.now();
    const err = await c.connect().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(GradwatchError);
    expect((err as GradwatchError).code).toBe('unauthorized');
    expect(Date.now() - t0).toBeLessThan(5000);
    await sleep(1500);
    expect(c.connects).toBe(1);
    expect(lines.filter((l) => l.includes('unauthorized'))).toHaveLength(1);
    await expect(c.end()).rejects.toThrow(/unauthorized/);
  });

  it('reject connect() on forbidden (a read token streaming a run)', async () => {
    const srv = await server({ engineFactory: noRules, env: { GRADWATCH_ADMIN_TOKEN: ADMIN } });
    const made = await getJson<{ token: string }>(`${srv.url}/api/v1/tokens`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ scope: 'read', name: 'reader' }),
    });
    expect(made.status).toBe(201);
    const { c } = client(srv, 'auth-2', { token: made.body.token });
    await expect(c.connect()).rejects.toMatchObject({ code: 'forbidden' });
    await sleep(500);
    expect(c.connects).toBe(1);
  });

  it('end() rejects, instead of hanging, when the run is deleted while streaming', async () => {
    const srv = await server({ engineFactory: noRules });
    const { c } = client(srv, 'del-1');
    await c.connect();
    c.step({ step: 0, scalars: { loss: 1 } });
    await c.flush();
    expect((await fetch(`${srv.url}/api/v1/runs/del-1`, { method: 'DELETE' })).status).toBe(204);
    for (let i = 0; i < 50 && !c.fatal; i++) await sleep(20);
    expect(c.fatal?.code).toBe('not_found');
    await expect(c.end()).rejects.toThrow(/not_found/);
  });
});

describe('transient faults', () => {
  it('an internal error with a seq is not consumed: the client re-sends it after a back-off and end() resolves', async () => {
    let failures = 0;
    // A rule engine that fails twice on step 5: the server's own rewrite of the batch (one savepoint
    // per message) fails too, so it rolls that message back and answers internal.
    const flaky: EngineFactory = (settings) => {
      const base = noRules(settings);
      return { ...base, onStep: (v) => (v.step === 5 && failures++ < 2 ? (() => { throw new Error('injected fault'); })() : base.onStep(v)) };
    };
    const srv = await server({ engineFactory: flaky });
    const { c } = client(srv, 'int-1', { batchSize: 1 });
    await c.connect();
    for (let s = 0; s < 10; s++) c.step({ step: s, scalars: { loss: s / 10 } });
    const report = await c.end(undefined, 10_000);
    expect(failures).toBeGreaterThan(0);
    expect(c.retries).toBeGreaterThan(0);
    expect(report.rejected).toBe(0);
    expect(await exportPoints(srv, 'int-1', 'loss')).toEqual([...Array(10).keys()].map((s) => [s, s / 10]));
  });

  it('rate_limited messages are re-sent after a back-off: every step stored once', async () => {
    const srv = await server({ engineFactory: noRules, env: { GRADWATCH_MAX_MESSAGES_PER_SECOND: '40' } });
    const { c } = client(srv, 'rate-1', { batchSize: 1, maxBackoffMs: 400 });
    await c.connect();
    for (let s = 0; s < 120; s++) c.step({ step: s, scalars: { loss: s } });
    await c.end(undefined, 20_000);
    expect(c.retries).toBeGreaterThan(0);
    expect(c.rejected).toEqual([]);
    expect(await exportPoints(srv, 'rate-1', 'loss')).toEqual([...Array(120).keys()].map((s) => [s, s]));
  });
});

describe('the stop command', () => {
  it('marks the run stopped: end() without a status ends it as stopped', async () => {
    const srv = await server();
    const put = await fetch(`${srv.url}/api/v1/projects/cli/rules`, {
      method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ 'nan.detected': { stop: true } }),
    });
    expect(put.status).toBe(200);
    const { c, lines } = client(srv, 'stop-1');
    await c.connect();
    let step = 0;
    for (; step < 200 && !c.stopRequested; step++) {
      c.step({ step, scalars: { loss: step < 5 ? 1 / (step + 1) : Number.NaN } });
      await sleep(10);
    }
    expect(c.stopRequested).toBe(true);
    expect(step).toBeLessThan(200);
    expect(c.stopReason).toMatch(/nan/i);
    expect(lines.some((l) => l.includes('asks run stop-1 to stop'))).toBe(true);
    expect((await c.end()).status).toBe('stopped');
    const run = await getJson<{ status: string }>(`${srv.url}/api/v1/runs/stop-1`);
    expect(run.body.status).toBe('stopped');
  });
});

describe("the server's limits", () => {
  it('steps queued before the first welcome are split to maxItemsPerMessage and maxFrameBytes; a step too large to send is reported', async () => {
    const srv = await server({ engineFactory: noRules, env: { GRADWATCH_MAX_ITEMS_PER_MESSAGE: '7', GRADWATCH_MAX_FRAME_BYTES: '8192' } });
    const { c, lines } = client(srv, 'lim-1', { batchSize: 100 });
    const big = (s: number): StepItem => ({ step: s, scalars: Object.fromEntries([...Array(40).keys()].map((k) => [`s${k}`, s + k / 100])) });
    for (let s = 0; s < 50; s++) c.step(big(s));
    c.flushBatch();
    // One step with a 20 kB name list cannot fit any 8 kB frame.
    c.step({ step: 50, scalars: Object.fromEntries([...Array(400).keys()].map((k) => [`wide_${k}_${'x'.repeat(30)}`, k])) });
    c.step(big(51));
    await c.connect();
    const report = await c.end();
    expect(report.rejected).toBe(1);
    expect(c.rejected[0]).toMatchObject({ code: 'frame_too_large', steps: 1 });
    expect(lines[0]).toMatch(/a steps message \(step 50\) was not sent: frame_too_large/);
    expect((await exportPoints(srv, 'lim-1', 's3')).map(([s]) => s)).toEqual([...Array(50).keys(), 51]);
  });
});

describe('several server URLs', () => {
  it('a connection that fails or is lost goes to the next URL in turn; nothing acked is lost or stored twice', async () => {
    const srv = await server({ engineFactory: noRules });
    // Nothing listens on the first URL: the client moves on to the second.
    const dead = `ws://127.0.0.1:${await freePort()}`;
    const lines: string[] = [];
    const c = new IngestClient({ url: [dead, srv.wsUrl], run: { id: 'urls-1', project: 'cli', name: 'urls-1' }, flushMs: 5, maxBackoffMs: 50, log: (l) => lines.push(l) });
    clients.push(c);
    const welcomed = new Promise((r) => c.once('welcome', r));
    await expect(c.connect()).rejects.toThrow();
    await welcomed;
    expect(c.serverUrl).toBe(`${srv.wsUrl}/v1/ingest`);
    c.step({ step: 0, scalars: { loss: 1 } });
    await c.flush();
    // A lost connection tries the dead URL, then comes back to the live one.
    c.dropConnection();
    c.step({ step: 1, scalars: { loss: 2 } });
    const report = await c.end();
    expect(report).toMatchObject({ acked: 3, rejected: 0 });
    expect(c.connects).toBe(2);
    expect(await exportPoints(srv, 'urls-1', 'loss')).toEqual([[0, 1], [1, 2]]);
    expect(lines).toEqual([]);
  });
});
