import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeBinary } from '../../src/ingest/binary.js';
import { decodeStep, layerOrderOf, type LayerOrder } from '../../src/ingest/decode.js';
import { decodePackedStep } from '../../src/ingest/packed-step.js';
import { readStepsFrame } from '../../src/ingest/steps-frame.js';
import { validators } from '../../src/ingest/validators.js';
import type { StepsMsg } from '@gradwatch/shared';
import { prng } from '../prng.js';

const packr = new Packr({ useRecords: false });
const float32 = new Packr({ useRecords: false, useFloat32: 1 });
const pack = (v: unknown, p = packr): Buffer => p.pack(v);

const MODEL = { layers: [{ name: 'conv1' }, { name: 'frozen', trainable: false }, { name: 'fc' }] };
const order = (): LayerOrder => layerOrderOf(MODEL);

/** What the general path makes of a frame: null when it refuses it. */
function general(data: Buffer) {
  const d = decodeBinary(data);
  if (!d.ok || d.problem !== null || !validators.steps.check(d.msg)) return null;
  const msg = d.msg as StepsMsg;
  if (msg.type !== 'steps') return null;
  const o = order();
  return { seq: msg.seq, items: msg.items.map((it) => ({ meta: meta(it), decoded: decodeStep(it, o) })) };
}

function fast(data: Buffer) {
  const msg = readStepsFrame(data);
  if (msg === null) return null;
  const o = order();
  return { seq: msg.seq, items: msg.items.map((it) => ({ meta: meta(it), decoded: decodePackedStep(it, o) })) };
}

const meta = (it: { step: number; time?: number; epoch?: number; examples?: number }) => ({ step: it.step, time: it.time, epoch: it.epoch, examples: it.examples });

/** The fast path either declines a frame or reads it exactly as the general path does. */
function agrees(data: Buffer): 'fast' | 'declined' {
  const f = fast(data);
  if (f === null) return 'declined';
  expect(general(data)).toEqual(f);
  return 'fast';
}

const stats = (x: number) => ({ mean: x, std: 1 + x, meanAbs: Math.abs(x), min: x - 1, max: x + 1 });

describe('the fast steps reader', () => {
  it('reads what the clients send exactly as the general path does', () => {
    const msgs: unknown[] = [
      { type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 2.5, lr: 1e-3 } }] },
      { type: 'steps', seq: 7, items: [{ step: 10, time: 1_700_000_000.25, epoch: 1.5, examples: 128, scalars: {}, layers: { conv1: { param: stats(0.1), grad: { ...stats(-0.2), norm: 3 }, update: stats(1e-4), act: { ...stats(0.5), fracZero: 0.25, fracDeadUnits: 0, fracSaturated: 0.01, nonFinite: 0 } }, frozen: { param: stats(1), update: stats(0) }, fc: { grad: { ...stats(0.3), norm: 1.5 }, bias: stats(0.01) } }, inputs: { mean: 0, std: 1, min: -3, max: 3, nonFinite: 0 } }] },
      // non-finite values, as markers and as raw floats; integers of every width; negatives
      { type: 'steps', seq: 2 ** 40, items: [{ step: 2 ** 53 - 1, scalars: { a: 'NaN', b: 'Infinity', c: '-Infinity', d: Number.NaN, e: -Infinity, f: 300, g: -5, h: -40000, i: 2 ** 33, j: -(2 ** 35) } }] },
      // several items, an empty layer, a layer without min/max, -0
      { type: 'steps', seq: 3, items: [{ step: 1, scalars: { loss: -0 }, layers: { conv1: {}, fc: { param: { mean: 0, std: 1, meanAbs: 0.5 } } } }, { step: 2, scalars: { loss: 1 }, layers: {} }] },
      // names an object lists first (array indices: nn.Sequential's "0", "1", ...) and ones it
      // does not, sent in another order (a Map keeps it)
      { type: 'steps', seq: 4, items: [{ step: 1, scalars: new Map<string, number>([['z', 1], ['7', 2], ['01', 3], ['4294967295', 4], ['4294967294', 5], ['3', 6]]), layers: new Map<string, unknown>([['fc', { param: stats(1) }], ['10', { grad: stats(2) }], ['2', { act: stats(3) }], ['0', { param: stats(4), update: stats(5) }], ['007', { bias: stats(6) }]]) }] },
      // integral floats where the schema wants integers (what the ingest benchmark sends)
      { type: 'steps', seq: 1e300 / 1e290, items: [{ step: 5.0, examples: 3.0, scalars: { x: 1 } }] },
    ];
    for (const m of msgs) {
      expect(agrees(pack(m))).toBe('fast');
      expect(agrees(pack(m, float32))).toBe('fast');
    }
  });

  it('leaves to the general path every frame it is not sure of', () => {
    const ok = { type: 'steps', seq: 1, items: [{ step: 1, scalars: { loss: 1 }, layers: { conv1: { param: stats(1) } } }] };
    const item = ok.items[0] as Record<string, unknown>;
    const declined: unknown[] = [
      { ...ok, extra: 1 },
      { ...ok, items: [{ ...item, note: 'hi' }] },
      { ...ok, items: [{ ...item, layers: { conv1: { param: { ...stats(1), p50: 0 } } } }] },
      { ...ok, items: [{ ...item, layers: { conv1: { weights: stats(1) } } }] },
      { ...ok, items: [{ ...item, scalars: { '': 1 } }] },
      { ...ok, items: [{ ...item, scalars: { ['x'.repeat(201)]: 1 } }] },
      { ...ok, items: [{ ...item, scalars: { 'héllo': 1 } }] },
      { ...ok, items: [{ ...item, scalars: JSON.parse('{"__proto__": 1}') as unknown }] },
      { ...ok, items: [{ ...item, scalars: { loss: null } }] },
      { ...ok, items: [{ ...item, scalars: { loss: true } }] },
      { ...ok, items: [{ ...item, scalars: { loss: 'nan' } }] },
      { ...ok, items: [{ ...item, step: 1.5 }] },
      { ...ok, items: [{ ...item, step: -1 }] },
      { ...ok, items: [{ ...item, step: 2 ** 53 }] },
      { ...ok, items: [{ ...item, time: Number.NaN }] },
      { ...ok, items: [{ ...item, time: 'NaN' }] },
      { ...ok, items: [{ ...item, epoch: -1 }] },
      { ...ok, items: [{ step: 1 }] },
      { ...ok, items: [{ ...item, layers: { conv1: { param: { mean: 1, std: 1 } } } }] },
      { ...ok, items: [{ ...item, inputs: { mean: 0, std: 1, min: 0 } }] },
      { ...ok, items: [] },
      { ...ok, seq: 0 },
      { ...ok, type: 'eval' },
      { type: 'steps', items: ok.items },
      [ok],
    ];
    for (const m of declined) expect(readStepsFrame(pack(m)), JSON.stringify(m)).toBeNull();
    const good = pack(ok);
    expect(readStepsFrame(good)).not.toBeNull();
    expect(readStepsFrame(good.subarray(0, good.length - 1))).toBeNull();
    expect(readStepsFrame(Buffer.concat([good, Buffer.from([0xc0])]))).toBeNull();
    // a key repeated in a map: MessagePack allows it, the general path keeps the last
    const dup = Buffer.from(pack({ type: 'steps', seq: 1, items: [{ step: 1, scalars: { aa: 1, bb: 2 } }] }).toString('latin1').replace('bb', 'aa'), 'latin1');
    expect(readStepsFrame(dup)).toBeNull();
    expect(general(dup)).not.toBeNull();
    // a protocol key repeated: an item's scalars, a stats field
    const twice = (m: unknown, from: string, to: string) => Buffer.from(pack(m).toString('latin1').replace(from, to), 'latin1');
    const scalarsTwice = twice({ type: 'steps', seq: 1, items: [{ step: 1, scalarz: { aa: 1 }, scalars: { bb: 2 } }] }, 'scalarz', 'scalars');
    const fieldTwice = twice({ ...ok, items: [{ ...item, layers: { conv1: { param: { ...stats(1), meen: 5 } } } }] }, 'meen', 'mean');
    for (const f of [scalarsTwice, fieldTwice]) {
      expect(readStepsFrame(f)).toBeNull();
      expect(general(f)).not.toBeNull();
    }
  });

  it('never reads a mangled frame differently from the general path (fuzz)', () => {
    const rnd = prng(1234);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
    const num = () => pick([0, 1, -1, 0.5, 300, -70000, 2 ** 40, 1e-300, Number.NaN, Infinity, 'NaN', '-Infinity']);
    const someStats = () => {
      const s: Record<string, unknown> = { mean: num(), std: num(), meanAbs: num() };
      for (const f of ['min', 'max', 'norm', 'nonFinite', 'fracZero']) if (rnd() < 0.5) s[f] = num();
      return s;
    };
    let taken = 0;
    for (let i = 0; i < 3000; i++) {
      const layers: Record<string, unknown> = {};
      for (const name of ['conv1', '3', 'frozen', '0', 'fc', 'x.y/z', '12']) {
        if (rnd() < 0.3) continue;
        const l: Record<string, unknown> = {};
        for (const k of ['param', 'grad', 'update', 'act', 'bias']) if (rnd() < 0.6) l[k] = someStats();
        layers[name] = l;
      }
      const it: Record<string, unknown> = { step: Math.floor(rnd() * 1000), scalars: { loss: num(), lr: num() } };
      if (rnd() < 0.8) it.layers = layers;
      if (rnd() < 0.3) it.time = 1.7e9 + rnd();
      if (rnd() < 0.3) it.inputs = { mean: num(), std: num(), min: num(), max: num() };
      const bytes = Buffer.from(pack({ type: 'steps', seq: 1 + Math.floor(rnd() * 100), items: [it] }, rnd() < 0.5 ? packr : float32));
      // up to three byte changes: a flipped byte, a cut, a dropped byte
      for (let m = Math.floor(rnd() * 4); m > 0; m--) {
        const at = Math.floor(rnd() * bytes.length);
        const op = rnd();
        if (op < 0.6) bytes[at] = Math.floor(rnd() * 256);
        else if (op < 0.8) bytes.copyWithin(at, at + 1);
        else bytes[at] = (bytes[at] as number) ^ 0x10;
      }
      if (agrees(bytes) === 'fast') taken++;
    }
    // most frames survive their changes (a changed float digit): the fast path was exercised
    expect(taken).toBeGreaterThan(600);
  });
});
