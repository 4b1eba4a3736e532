/**
 * The TS client's MessagePack binary frames against a real server: the same stream sent with
 * msgpack and with JSON is stored identically, NaN and ±Infinity included, across a reconnect
 * and batch splitting.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { StepItem } from '@gradwatch/shared';
import { IngestClient, type IngestClientOptions } from '@gradwatch/client';
import { getJson, noRules, removeDir, startServer, type TestServer } from '../../../server/test/helpers.js';

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

async function server(env: Record<string, string> = {}): Promise<TestServer> {
  const s = await startServer({ engineFactory: noRules, env });
  servers.push(s);
  return s;
}

function client(srv: TestServer, id: string, extra: Partial<IngestClientOptions> = {}): { c: IngestClient; lines: string[] } {
  const lines: string[] = [];
  const c = new IngestClient({ url: srv.wsUrl, run: { id, project: 'bin', name: id }, flushMs: 5, log: (l) => lines.push(l), ...extra });
  clients.push(c);
  return { c, lines };
}

const special = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
const v = (step: number, k: number): number => (step % 7 === k % 7 ? (special[(step + k) % 3] as number) : Math.sin(step * 0.37 + k) / (k + 1));
const stats = (step: number, k: number) => ({ mean: v(step, k), std: Math.abs(v(step, k + 1)), meanAbs: Math.abs(v(step, k + 2)) + 1e-9, min: v(step, k + 3) - 1, max: v(step, k + 4) + 1, norm: v(step, k + 5) });

function item(step: number, layers = 3): StepItem {
  const ls: NonNullable<StepItem['layers']> = {};
  for (let l = 0; l < layers; l++) ls[`l${l}`] = { param: stats(step, l * 10), grad: stats(step, l * 10 + 1), update: stats(step, l * 10 + 2) };
  return { step, epoch: 0, time: 1795756800 + step / 8, scalars: { loss: v(step, 0), lr: 1e-3 * (1 + step) }, layers: ls, inputs: { mean: v(step, 9), std: 1, min: -1, max: 1 } };
}

async function stream(c: IngestClient, from: number, to: number, mid?: () => void): Promise<void> {
  for (let s = from; s < to; s++) {
    c.step(item(s));
    if (s === Math.floor((from + to) / 2)) mid?.();
  }
  c.eval({ step: to - 1, split: 'val', metrics: { loss: Number.NaN, acc: 0.5 } });
  c.hist({ step: to - 1, layer: 'l0', of: 'param', edges: [-1, 0, 1], counts: [1, 2] });
}

/** Every stored series of a run, name -> points, read through REST. */
async function stored(srv: TestServer, run: string): Promise<Record<string, unknown>> {
  const series = await getJson<{ series: Array<{ name: string }> }>(`${srv.url}/api/v1/runs/${run}/series`);
  const out: Record<string, unknown> = {};
  for (const { name } of series.body.series) {
    out[name] = (await getJson<{ points: unknown }>(`${srv.url}/api/v1/runs/${run}/series/export?name=${encodeURIComponent(name)}`)).body.points;
  }
  return out;
}

describe('MessagePack binary frames', () => {
  it('are used when the server accepts them, and store exactly what JSON stores', async () => {
    const srv = await server();
    const bin = client(srv, 'via-msgpack');
    const json = client(srv, 'via-json', { encoding: 'json' });
    await bin.c.connect();
    await json.c.connect();
    expect(bin.c.encoding).toBe('msgpack');
    expect(json.c.encoding).toBe('json');
    await Promise.all([stream(bin.c, 0, 120), stream(json.c, 0, 120)]);
    const [rb, rj] = await Promise.all([bin.c.end(), json.c.end()]);
    expect(rb).toMatchObject({ status: 'completed', rejected: 0 });
    expect(rj).toMatchObject({ status: 'completed', rejected: 0 });
    expect(bin.lines).toEqual([]);
    const [a, b] = await Promise.all([stored(srv, 'via-msgpack'), stored(srv, 'via-json')]);
    expect(Object.keys(a).length).toBeGreaterThan(40);
    expect(a).toEqual(b);
    // The non-finite values came through as such.
    const loss = a.loss as Array<[number, number | string]>;
    expect(loss.filter(([, x]) => typeof x === 'string').map(([, x]) => x)).toEqual(expect.arrayContaining(['NaN', 'Infinity', '-Infinity']));
    const steps = await getJson<{ steps: Array<{ time: number }> }>(`${srv.url}/api/v1/runs/via-msgpack/steps`);
    const stepsJson = await getJson<{ steps: Array<{ time: number }> }>(`${srv.url}/api/v1/runs/via-json/steps`);
    expect(steps.body).toEqual(stepsJson.body);
  });

  it('survive a dropped connection (re-sent in msgpack, nothing lost or doubled) and split to the limits', async () => {
    const srv = await server({ GRADWATCH_MAX_FRAME_BYTES: '16384' });
    const bin = client(srv, 'bin-drop', { batchSize: 40 });
    const json = client(srv, 'json-drop', { batchSize: 40, encoding: 'json' });
    // Queued before the first welcome: encoded as JSON, re-encoded when msgpack is accepted.
    bin.c.step(item(0));
    json.c.step(item(0));
    await bin.c.connect();
    await json.c.connect();
    await Promise.all([stream(bin.c, 1, 200, () => bin.c.dropConnection()), stream(json.c, 1, 200)]);
    const [rb, rj] = await Promise.all([bin.c.end(), json.c.end()]);
    expect(rb).toMatchObject({ status: 'completed', rejected: 0 });
    expect(rj).toMatchObject({ status: 'completed', rejected: 0 });
    expect(bin.c.connects).toBeGreaterThanOrEqual(2);
    expect(await stored(srv, 'bin-drop')).toEqual(await stored(srv, 'json-drop'));
  });
});
