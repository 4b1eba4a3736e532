import { Packr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, hello, noRules, RawSocket, removeDir, startServer, type TestServer } from '../helpers.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startServer({ engineFactory: noRules, env: { GRADWATCH_MAX_FRAME_BYTES: '65536' } });
});
afterAll(async () => {
  await srv.close();
  removeDir(srv.dataDir);
});

const packr = new Packr({ useRecords: false });
const pack = (m: unknown): Buffer => packr.pack(m);

const exportOf = async (run: string, name: string) =>
  (await getJson<{ points: unknown[] }>(`${srv.url}/api/v1/runs/${run}/series/export?name=${encodeURIComponent(name)}`)).body.points;

async function session(id: string, encodings: unknown = ['msgpack']): Promise<{ s: RawSocket; welcome: Record<string, unknown> }> {
  const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
  s.send(hello(id, { encodings }));
  const welcome = (await s.next((m) => m.type === 'welcome')) as unknown as Record<string, unknown>;
  return { s, welcome };
}

const sendBin = (s: RawSocket, m: unknown): void => s.ws.send(Buffer.isBuffer(m) ? m : pack(m));

describe('MessagePack binary frames', () => {
  it('are negotiated in hello: the welcome names the encoding only when the client offers it', async () => {
    const a = await session('bin-neg-a');
    expect(a.welcome.encoding).toBe('msgpack');
    const b = await session('bin-neg-b', ['zstd-json', 'msgpack']);
    expect(b.welcome.encoding).toBe('msgpack');
    const c = await session('bin-neg-c', ['cbor']);
    expect(c.welcome).not.toHaveProperty('encoding');
    const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    s.send(hello('bin-neg-d'));
    expect(await s.next((m) => m.type === 'welcome')).not.toHaveProperty('encoding');
    // Not a list of strings: the hello fails validation, as any bad field does.
    const d = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    d.send(hello('bin-neg-e', { encodings: 'msgpack' }));
    expect(await d.error()).toMatchObject({ code: 'bad_message' });
    for (const x of [a.s, b.s, c.s, s, d]) x.close();
  });

  it('store NaN and ±Infinity sent as raw floats exactly as markers, and read back the same', async () => {
    const { s } = await session('bin-nan');
    const third = 1 / 3;
    sendBin(s, {
      type: 'steps', seq: 1, items: [
        { step: 0, scalars: { loss: Number.NaN, lr: 1e-3 } },
        { step: 1, scalars: { loss: Number.POSITIVE_INFINITY, lr: third } },
        { step: 2, scalars: { loss: Number.NEGATIVE_INFINITY, lr: 'NaN' } },
        { step: 3, scalars: { loss: 2.5, lr: 'Infinity' }, layers: { fc: { grad: { mean: Number.NaN, std: 0, meanAbs: Math.PI, min: Number.NEGATIVE_INFINITY, max: Number.POSITIVE_INFINITY, nonFinite: 7 } } } },
      ],
    });
    await s.ack(1);
    expect(await exportOf('bin-nan', 'loss')).toEqual([[0, 'NaN'], [1, 'Infinity'], [2, '-Infinity'], [3, 2.5]]);
    expect(await exportOf('bin-nan', 'lr')).toEqual([[0, 1e-3], [1, third], [2, 'NaN'], [3, 'Infinity']]);
    expect(await exportOf('bin-nan', 'layer/fc/grad/mean')).toEqual([[3, 'NaN']]);
    expect(await exportOf('bin-nan', 'layer/fc/grad/meanAbs')).toEqual([[3, Math.PI]]);
    expect(await exportOf('bin-nan', 'layer/fc/grad/min')).toEqual([[3, '-Infinity']]);
    expect(await exportOf('bin-nan', 'layer/fc/grad/nonFinite')).toEqual([[3, 7]]);
    s.close();
  });

  it('store a steps frame of the fast shape exactly as the same message sent as JSON', async () => {
    const st = (x: number) => ({ mean: x, std: 1, meanAbs: Math.abs(x) + 0.5, min: x - 1, max: x + 1 });
    // nn.Sequential's layer names, a name a JS object lists first ("0") sent after others
    const layers = (x: number) => new Map<string, unknown>([['2', { param: st(x), grad: { ...st(-x), norm: 2 }, update: st(x / 100) }], ['fc', { param: st(1), act: { ...st(x), fracZero: 0.5 } }], ['0', { param: st(3), update: st(0), bias: st(x) }]]);
    const items = (from: number) => [0, 1, 2].map((i) => ({ step: from + i, time: 1.7e9 + i, epoch: 0.5, examples: 32, scalars: { loss: 1 / (i + 1), '7': i }, layers: layers(i), inputs: { mean: 0, std: 1, min: -2, max: Number.POSITIVE_INFINITY } }));
    const bin = await session('bin-fast');
    const text = await session('bin-fast-json');
    sendBin(bin.s, { type: 'model', seq: 1, layers: [{ name: '0', kind: 'Linear', params: 10 }, { name: '2', kind: 'Linear', params: 4 }, { name: 'fc', kind: 'Linear', params: 4, trainable: false }] });
    text.s.send({ type: 'model', seq: 1, layers: [{ name: '0', kind: 'Linear', params: 10 }, { name: '2', kind: 'Linear', params: 4 }, { name: 'fc', kind: 'Linear', params: 4, trainable: false }] });
    sendBin(bin.s, { type: 'steps', seq: 2, items: items(0) });
    // JSON has no Map: the same entries as an object (which lists "0" first, as the server must)
    text.s.send({ type: 'steps', seq: 2, items: items(0).map((it) => ({ ...it, layers: Object.fromEntries(it.layers), inputs: { ...it.inputs, max: 'Infinity' } })) });
    await bin.s.ack(2);
    await text.s.ack(2);
    const list = async (run: string) => (await getJson<{ series: Array<{ name: string; count: number }> }>(`${srv.url}/api/v1/runs/${run}/series`)).body.series;
    const names = (await list('bin-fast')).map((x) => x.name).sort();
    expect(names).toEqual((await list('bin-fast-json')).map((x) => x.name).sort());
    expect(names).toContain('layer/0/update_ratio');
    expect(names).not.toContain('layer/fc/update_ratio');
    for (const n of names) expect(await exportOf('bin-fast', n), n).toEqual(await exportOf('bin-fast-json', n));
    bin.s.close();
    text.s.close();
  });

  it('carry every sequenced type, mixed freely with JSON text frames on one connection', async () => {
    const { s } = await session('bin-types');
    sendBin(s, { type: 'model', seq: 1, layers: [{ name: 'fc1', kind: 'Linear', params: 10 }, { name: 'fc2', kind: 'Linear', params: 4 }], optimizer: { type: 'Adam', lr: 1e-3, betas: [0.9, 0.999] } });
    s.send({ type: 'steps', seq: 2, items: [{ step: 0, scalars: { loss: 1 } }] });
    sendBin(s, { type: 'steps', seq: 3, items: [{ step: 1, scalars: { loss: 0.5 } }] });
    sendBin(s, { type: 'eval', seq: 4, step: 1, split: 'val', metrics: { loss: Number.NaN, acc: 0.75 } });
    sendBin(s, { type: 'hist', seq: 5, step: 1, layer: 'fc1', of: 'param', edges: [-1, 0, 1], counts: [3, 4] });
    sendBin(s, { type: 'end', seq: 6, status: 'completed' });
    await s.ack(6);
    expect(await exportOf('bin-types', 'loss')).toEqual([[0, 1], [1, 0.5]]);
    expect(await exportOf('bin-types', 'eval/val/loss')).toEqual([[1, 'NaN']]);
    const run = await getJson<{ status: string }>(`${srv.url}/api/v1/runs/bin-types`);
    expect(run.body.status).toBe('completed');
    s.close();
  });

  it('are refused before a welcome accepted them, with the socket kept open and no seq consumed', async () => {
    const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    sendBin(s, { type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 1 } }] });
    expect(await s.error()).toMatchObject({ code: 'bad_message' });
    s.send(hello('bin-early'));
    await s.next((m) => m.type === 'welcome');
    sendBin(s, { type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 1 } }] });
    const e = (await s.error()) as { code: string; message: string; seq?: number };
    expect(e).toMatchObject({ code: 'bad_message' });
    expect(e.seq).toBeUndefined();
    expect(e.message).toContain('msgpack');
    s.send({ type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 2 } }] });
    await s.ack(1);
    expect(await exportOf('bin-early', 'loss')).toEqual([[0, 2]]);
    expect(s.closeCode).toBeNull();
    s.close();
  });

  it('stop after a hello that does not offer them (a hello renegotiates)', async () => {
    const { s } = await session('bin-rehello');
    sendBin(s, { type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 1 } }] });
    await s.ack(1);
    s.send(hello('bin-rehello'));
    expect(await s.next((m) => m.type === 'welcome')).not.toHaveProperty('encoding');
    sendBin(s, { type: 'steps', seq: 2, items: [{ step: 1, scalars: { loss: 1 } }] });
    expect(await s.error()).toMatchObject({ code: 'bad_message' });
    s.close();
  });

  it('answer frames that are not one MessagePack map with bad_message, consuming nothing, socket open', async () => {
    const { s } = await session('bin-garbage');
    const bad = [
      Buffer.from([0xc1]), // never used
      Buffer.from([0x92, 0x01]), // truncated array
      Buffer.from([0x01, 0x02]), // two values
      Buffer.alloc(0),
      Buffer.from([0xd4, 0x05, 0x01]), // unknown extension
      pack([1, 2, 3]),
      pack('steps'),
      pack(null),
      Buffer.concat([Buffer.alloc(60_000, 0x91), Buffer.from([0x01])]), // nested past any stack
    ];
    for (const b of bad) {
      sendBin(s, b);
      const e = (await s.error()) as { code: string; seq?: number };
      expect(e.code).toBe('bad_message');
      expect(e.seq).toBeUndefined();
    }
    sendBin(s, { type: 'hello', protocol: 1, run: { id: 'bin-garbage', project: 'test', name: 'x' } });
    expect(await s.error()).toMatchObject({ code: 'bad_message', message: 'hello is sent as a JSON text frame' });
    sendBin(s, { type: 'launch', seq: 1 });
    expect(await s.error()).toMatchObject({ code: 'unknown_type' });
    sendBin(s, { type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 3 } }] });
    await s.ack(1);
    expect(await exportOf('bin-garbage', 'loss')).toEqual([[0, 3]]);
    expect(s.closeCode).toBeNull();
    s.close();
  });

  it('refuse a NUL in any string, key or value, and values JSON has no form for, consuming the seq', async () => {
    const { s } = await session('bin-nul');
    sendBin(s, { type: 'steps', seq: 1, items: [{ step: 0, scalars: { 'lo\u0000ss': 1 } }] });
    const e1 = (await s.error(1)) as { code: string; message: string };
    expect(e1.code).toBe('bad_message');
    expect(e1.message).toContain('NUL');
    expect(e1.message).toContain('/items/0/scalars');
    sendBin(s, { type: 'model', seq: 2, layers: [{ name: 'fc\u0000', kind: 'Linear', params: 1 }] });
    expect(await s.error(2)).toMatchObject({ code: 'bad_message' });
    // Ill-formed UTF-8 for a lone surrogate (CESU-8 ED A0 80) as a scalar name.
    const cesu = Buffer.from([0x83, 0xa4, ...Buffer.from('type'), 0xa5, ...Buffer.from('steps'), 0xa3, ...Buffer.from('seq'), 0x03, 0xa5, ...Buffer.from('items'),
      0x91, 0x82, 0xa4, ...Buffer.from('step'), 0x00, 0xa7, ...Buffer.from('scalars'), 0x81, 0xa3, 0xed, 0xa0, 0x80, 0x01]);
    sendBin(s, cesu);
    const e3 = (await s.next((m) => (m.type === 'error' && m.seq === 3) || (m.type === 'ack' && m.seq === 3))) as { type: string; code?: string };
    // msgpackr decodes it as U+FFFD (well-formed, storable) or a lone surrogate (refused): never stored as a surrogate.
    if (e3.type === 'error') expect(e3.code).toBe('bad_message');
    sendBin(s, { type: 'steps', seq: 4, items: [{ step: 1, scalars: { loss: 1 } }], extra: new Date(0) });
    expect(await s.error(4)).toMatchObject({ code: 'bad_message' });
    sendBin(s, { type: 'steps', seq: 5, items: [{ step: 1, scalars: { loss: 1 } }], blob: Buffer.alloc(40_000) });
    const e5 = (await s.error(5)) as { message: string };
    expect(e5.message).toContain('/blob');
    sendBin(s, { type: 'steps', seq: 6, items: [{ step: 1, scalars: { loss: 6 } }] });
    await s.ack(6);
    expect(await exportOf('bin-nul', 'loss')).toEqual([[1, 6]]);
    s.close();
  });

  it('keep the seq rules: re-sends are acked without storing, gaps answered with expected, invalid consumes', async () => {
    const { s } = await session('bin-seq');
    sendBin(s, { type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 1 } }] });
    await s.ack(1);
    sendBin(s, { type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 99 } }] });
    await s.ack(1);
    sendBin(s, { type: 'steps', seq: 3, items: [{ step: 5, scalars: { loss: 3 } }] });
    expect(await s.error(3)).toMatchObject({ code: 'gap', expected: 2 });
    sendBin(s, { type: 'steps', seq: 2, items: [{ step: 1, scalars: { loss: 'high' } }] });
    const e = (await s.error(2)) as { code: string; message: string };
    expect(e.code).toBe('bad_message');
    expect(e.message).toContain('/items/0/scalars/loss');
    sendBin(s, { type: 'steps', seq: 3, items: [{ step: 0, scalars: { loss: 3 } }] });
    expect(await s.error(3)).toMatchObject({ code: 'step_order' });
    sendBin(s, { type: 'steps', seq: 4, items: [{ step: 2, scalars: { loss: 4 } }] });
    await s.ack(4);
    sendBin(s, { type: 'steps', seq: 0, items: [{ step: 3, scalars: { loss: 4 } }] });
    expect(await s.error()).toMatchObject({ code: 'bad_message', message: 'seq must be an integer >= 1' });
    expect(await exportOf('bin-seq', 'loss')).toEqual([[0, 1], [2, 4]]);
    s.close();
    // A new connection resumes from the same lastSeq whatever the encoding of what came before.
    const { s: t, welcome } = await session('bin-seq');
    expect(welcome.lastSeq).toBe(4);
    t.close();
  });

  it('are held to maxFrameBytes like text frames: frame_too_large and a close (1009)', async () => {
    const { s } = await session('bin-big');
    sendBin(s, { type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 1 } }], pad: 'x'.repeat(70_000) });
    expect(await s.error()).toMatchObject({ code: 'frame_too_large' });
    await new Promise<void>((r) => s.ws.once('close', () => r()));
    expect(s.closeCode).toBe(1009);
  });
});
