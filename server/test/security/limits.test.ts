/**
 * Every limit is configurable, advertised in welcome, and answered with a clear error that
 * changes nothing: frame size, messages per second, items per message, layers, series per run,
 * string lengths, open connections (ingest and live); a slow live socket is dropped while
 * ingest goes on unaffected.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, hello, noRules, RawSocket, removeDir, startServer, syntheticStep, type TestServer } from '../helpers.js';

const ENV = {
  GRADWATCH_MAX_FRAME_BYTES: '4096',
  GRADWATCH_MAX_LAYERS: '3',
  GRADWATCH_MAX_SERIES_PER_RUN: '12',
  GRADWATCH_MAX_ITEMS_PER_MESSAGE: '5',
  GRADWATCH_MAX_MESSAGES_PER_SECOND: '40',
  GRADWATCH_MAX_CONNECTIONS: '4',
  GRADWATCH_MAX_LIVE_CONNECTIONS: '2',
};

let srv: TestServer;
beforeAll(async () => {
  srv = await startServer({ engineFactory: noRules, env: ENV });
});
afterAll(async () => {
  await srv.close();
  removeDir(srv.dataDir);
});

async function session(id: string): Promise<RawSocket> {
  const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
  s.send(hello(id));
  await s.next((m) => m.type === 'welcome');
  return s;
}
const seriesOf = async (run: string) =>
  (await getJson<{ series: Array<{ name: string; count: number }> }>(`${srv.url}/api/v1/runs/${run}/series`)).body.series;
const closed = (s: RawSocket) => new Promise<number>((r) => (s.closeCode !== null ? r(s.closeCode) : s.ws.once('close', (c) => r(c))));

describe('limits', () => {
  it('advertises the configured limits in welcome', async () => {
    const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    s.send(hello('lim-welcome'));
    expect(await s.next((m) => m.type === 'welcome')).toMatchObject({
      limits: { maxFrameBytes: 4096, maxLayers: 3, maxSeriesPerRun: 12, maxItemsPerMessage: 5, maxMessagesPerSecond: 40, maxStringLength: 200 },
    });
    s.close();
  });

  it('answers a frame over maxFrameBytes with frame_too_large, then closes 1009; nothing stored', async () => {
    const s = await session('lim-frame');
    s.send({ type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 1, pad: 1 } }], pad: 'x'.repeat(5000) });
    expect(await s.error()).toMatchObject({ code: 'frame_too_large', message: expect.stringMatching(/maxFrameBytes=4096/) });
    expect(await closed(s)).toBe(1009);
    expect(await seriesOf('lim-frame')).toEqual([]);
  });

  it('answers messages over maxMessagesPerSecond with rate_limited and stores none of them', async () => {
    const s = await session('lim-rate');
    const n = 120;
    for (let i = 1; i <= n; i++) s.send({ type: 'steps', seq: i, items: [{ step: i, scalars: { loss: i } }] });
    await new Promise((r) => setTimeout(r, 500));
    const limited = s.received.filter((m) => m.type === 'error' && m.code === 'rate_limited');
    expect(limited.length).toBeGreaterThan(0);
    expect((limited[0] as { message: string }).message).toMatch(/40 messages a second/);
    // What got through was stored; what was limited consumed no seq (a later one is a gap).
    const acked = s.received.filter((m) => m.type === 'ack').length;
    expect(acked + limited.length + s.received.filter((m) => m.type === 'error' && m.code === 'gap').length).toBe(n);
    const loss = (await seriesOf('lim-rate')).find((x) => x.name === 'loss');
    expect(loss?.count).toBe(acked);
    s.close();
  });

  it('answers more steps than maxItemsPerMessage with limit', async () => {
    const s = await session('lim-items');
    s.send({ type: 'steps', seq: 1, items: Array.from({ length: 6 }, (_, i) => ({ step: i, scalars: { loss: i } })) });
    expect(await s.error(1)).toMatchObject({ code: 'limit', message: expect.stringMatching(/maxItemsPerMessage=5/) });
    expect(await seriesOf('lim-items')).toEqual([]);
    s.close();
  });

  it('answers more layers than maxLayers (steps and model) with limit', async () => {
    const s = await session('lim-layers');
    const step = syntheticStep(0, 4);
    s.send({ type: 'steps', seq: 1, items: [{ ...step, scalars: {} }] });
    expect(await s.error(1)).toMatchObject({ code: 'limit', message: expect.stringMatching(/maxLayers=3/) });
    const layers = Array.from({ length: 4 }, (_, i) => ({ name: `l${i}`, kind: 'Linear', params: 10 }));
    s.send({ type: 'model', seq: 2, layers });
    expect(await s.error(2)).toMatchObject({ code: 'limit', message: expect.stringMatching(/maxLayers=3/) });
    expect(await seriesOf('lim-layers')).toEqual([]);
    s.close();
  });

  it('answers a run growing past maxSeriesPerRun with limit, keeping what it had', async () => {
    const s = await session('lim-series');
    const scalars = (n: number, off = 0) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${i + off}`, i]));
    s.send({ type: 'steps', seq: 1, items: [{ step: 0, scalars: scalars(10) }] });
    await s.ack(1);
    s.send({ type: 'steps', seq: 2, items: [{ step: 1, scalars: scalars(3, 10) }] });
    expect(await s.error(2)).toMatchObject({ code: 'limit', message: expect.stringMatching(/maxSeriesPerRun=12/) });
    s.send({ type: 'eval', seq: 3, step: 1, split: 'val', metrics: scalars(3) });
    expect(await s.error(3)).toMatchObject({ code: 'limit' });
    expect((await seriesOf('lim-series')).length).toBe(10);
    s.send({ type: 'steps', seq: 4, items: [{ step: 1, scalars: scalars(2, 10) }] });
    await s.ack(4);
    expect((await seriesOf('lim-series')).length).toBe(12);
    s.close();
  });

  it('answers strings over 200 characters with bad_message naming the field', async () => {
    const long = 'x'.repeat(201);
    const h = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    h.send(hello('lim-str', { run: { id: 'lim-str', project: 'test', name: long } }));
    expect(await h.error()).toMatchObject({ code: 'bad_message', message: expect.stringMatching(/\/run\/name/) });
    h.close();
    const s = await session('lim-str');
    s.send({ type: 'steps', seq: 1, items: [{ step: 0, scalars: { [long]: 1 } }] });
    expect(await s.error(1)).toMatchObject({ code: 'bad_message' });
    s.send({ type: 'hist', seq: 2, step: 0, layer: long, of: 'param', edges: [0, 1], counts: [1] });
    expect(await s.error(2)).toMatchObject({ code: 'bad_message', message: expect.stringMatching(/\/layer/) });
    expect(await seriesOf('lim-str')).toEqual([]);
    s.close();
  });

  it('answers deeply nested values (config, optimizer) with bad_message, never a crash', async () => {
    const deep = (n: number) => JSON.parse('{"a":'.repeat(n) + '1' + '}'.repeat(n)) as unknown;
    const h = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    h.send(JSON.stringify(hello('lim-deep', { run: { id: 'lim-deep', project: 'test', name: 'deep', config: { k: deep(500) } } })));
    expect(await h.error()).toMatchObject({ code: 'bad_message', message: expect.stringMatching(/\/run\/config/) });
    h.send(JSON.stringify(hello('lim-deep', { run: { id: 'lim-deep', project: 'test', name: 'deep', config: { lr: 1e-3, model: { layers: [64, 64], act: 'relu' } } } })));
    await h.next((m) => m.type === 'welcome');
    h.send({ type: 'model', seq: 1, layers: [], optimizer: { type: 'Adam', betas: [0.9, 0.999], nested: deep(200) } });
    expect(await h.error(1)).toMatchObject({ code: 'bad_message' });
    h.send({ type: 'model', seq: 2, layers: [], optimizer: { type: 'Adam', betas: [0.9, 0.999], eps: 1e-8, amsgrad: false } });
    await h.ack(2);
    expect((await getJson(`${srv.url}/healthz`)).status).toBe(200);
    h.close();
  });

  it('refuses ingest connections over maxConnections with limit and 1013, and accepts again once one closes', async () => {
    const open: RawSocket[] = [];
    for (let i = 0; i < 4; i++) open.push(await RawSocket.open(`${srv.wsUrl}/v1/ingest`));
    const extra = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    expect(await extra.error()).toMatchObject({ code: 'busy', message: expect.stringMatching(/GRADWATCH_MAX_CONNECTIONS=4/) });
    expect(await closed(extra)).toBe(1013);
    open[0]?.close();
    await closed(open[0] as RawSocket);
    await new Promise((r) => setTimeout(r, 50));
    const again = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    again.send(hello('lim-conn'));
    expect(await again.next((m) => m.type === 'welcome')).toMatchObject({ runId: 'lim-conn' });
    for (const s of [...open, again]) s.close();
  });

  it('refuses live connections over maxLiveConnections', async () => {
    const a = await RawSocket.open(`${srv.wsUrl}/v1/live`);
    const b = await RawSocket.open(`${srv.wsUrl}/v1/live`);
    const c = await RawSocket.open(`${srv.wsUrl}/v1/live`);
    expect(await c.error()).toMatchObject({ code: 'busy', message: expect.stringMatching(/GRADWATCH_MAX_LIVE_CONNECTIONS=2/) });
    expect(await closed(c)).toBe(1013);
    a.close();
    b.close();
  });
});

describe('a slow live socket', () => {
  let big: TestServer;
  beforeAll(async () => {
    big = await startServer({ engineFactory: noRules, env: { GRADWATCH_LIVE_MAX_BUFFERED_BYTES: '65536', GRADWATCH_MAX_MESSAGES_PER_SECOND: '100000' } });
  });
  afterAll(async () => {
    await big.close();
    removeDir(big.dataDir);
  });

  it('is dropped with slow_consumer while ingest goes on, every message acked', async () => {
    const s = await RawSocket.open(`${big.wsUrl}/v1/ingest`);
    s.send(hello('slow-1'));
    await s.next((m) => m.type === 'welcome');
    // A healthy subscriber next to the slow one keeps receiving.
    const healthy = new WebSocket(`${big.wsUrl}/v1/live`);
    let healthyPoints = 0;
    healthy.on('message', (d: Buffer) => {
      if ((JSON.parse(d.toString()) as { type: string }).type === 'points') healthyPoints++;
    });
    await new Promise((r) => healthy.once('open', r));
    healthy.send(JSON.stringify({ type: 'subscribe', runs: ['slow-1'], series: ['loss'] }));

    const slow = new WebSocket(`${big.wsUrl}/v1/live`);
    const slowMsgs: Array<{ type: string; code?: string }> = [];
    let slowClose = 0;
    slow.on('message', (d: Buffer) => slowMsgs.push(JSON.parse(d.toString()) as { type: string }));
    slow.on('close', (c) => (slowClose = c));
    await new Promise((r) => slow.once('open', r));
    slow.send(JSON.stringify({ type: 'subscribe', runs: ['slow-1'] }));
    await new Promise((r) => setTimeout(r, 100));
    // Stop reading: the server's send buffer for this socket can only grow.
    (slow as unknown as { _socket: { pause(): void } })._socket.pause();

    const t0 = Date.now();
    const n = 60;
    for (let i = 1; i <= n; i++) {
      s.send({ type: 'steps', seq: i, items: Array.from({ length: 5 }, (_, k) => syntheticStep((i - 1) * 5 + k, 200)) });
      if (i % 10 === 0 && i < n) await s.ack(i);
    }
    await s.ack(n);
    const ingestMs = Date.now() - t0;
    (slow as unknown as { _socket: { resume(): void } })._socket.resume();
    for (let i = 0; i < 100 && slowClose === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(slowClose).toBe(1013);
    expect(slowMsgs.find((m) => m.type === 'error')).toMatchObject({ code: 'slow_consumer' });
    expect(healthyPoints).toBeGreaterThan(0);
    expect(s.received.filter((m) => m.type === 'error')).toEqual([]);
    expect(ingestMs).toBeLessThan(30_000);
    const steps = (await getJson<{ series: Array<{ name: string; count: number }> }>(`${big.url}/api/v1/runs/slow-1/series`)).body.series;
    expect(steps.find((x) => x.name === 'loss')?.count).toBe(n * 5);
    healthy.close();
    s.close();
  });
});
