import { describe, expect, it } from 'vitest';
import { Bucketizer, Envelope } from '../../src/points/buckets.js';
import { f64View, newRow, readSlot, rowToBuffer, setValue } from '../../src/points/packed.js';

describe('packed rows', () => {
  it('keeps NaN, infinities and -0 apart from missing slots, and trims trailing gaps', () => {
    const row = newRow(6);
    setValue(row.f64, row.u32, 0, Number.NaN);
    setValue(row.f64, row.u32, 1, Infinity);
    setValue(row.f64, row.u32, 3, -0);
    setValue(row.f64, row.u32, 4, 1.5);
    const buf = rowToBuffer(row.f64, row.u32);
    expect(buf.length).toBe(5 * 8);
    // An odd offset, as a pooled Buffer from SQLite may have.
    const shifted = Buffer.alloc(buf.length + 3);
    buf.copy(shifted, 3);
    const view = f64View(shifted.subarray(3));
    expect(Number.isNaN(readSlot(view, 0))).toBe(true);
    expect(readSlot(view, 1)).toBe(Infinity);
    expect(readSlot(view, 2)).toBeUndefined();
    expect(Object.is(readSlot(view, 3), -0)).toBe(true);
    expect(readSlot(view, 4)).toBe(1.5);
    expect(readSlot(view, 5)).toBeUndefined();
    expect(readSlot(view, 99)).toBeUndefined();
  });

  it('reads rows that share one buffer, as pooled rows and SQLite blobs do, each on its own', () => {
    const rows = Array.from({ length: 50 }, (_, i) => {
      const r = newRow(3);
      if (i % 3 !== 0) setValue(r.f64, r.u32, 0, i % 5 === 0 ? Number.NaN : i);
      setValue(r.f64, r.u32, 2, -i);
      return rowToBuffer(r.f64, r.u32);
    });
    const pooled = Buffer.concat(rows);
    let at = 0;
    rows.forEach((r, i) => {
      const view = f64View(pooled.subarray(at, (at += r.length)));
      const first = readSlot(view, 0);
      if (i % 3 === 0) expect(first).toBeUndefined();
      else if (i % 5 === 0) expect(Number.isNaN(first)).toBe(true);
      else expect(first).toBe(i);
      expect(readSlot(view, 1)).toBeUndefined();
      expect(Object.is(readSlot(view, 2), -i)).toBe(true);
    });
  });

  it('stores every NaN with the canonical bit pattern, whatever NaN it was given', () => {
    const odd = new Float64Array(new Uint32Array([1, 0xfff80000]).buffer)[0] as number;
    const row = newRow(1);
    setValue(row.f64, row.u32, 0, odd);
    expect([...row.u32]).toEqual([0, 0x7ff80000]);
  });
});

describe('envelopes and buckets', () => {
  it('counts non-finite values apart and keeps min/max over finite ones', () => {
    const e = new Envelope();
    [3, Number.NaN, -Infinity, 1, Infinity, 2].forEach((v, i) => e.add(i, v));
    expect(e.toBucket()).toEqual({ fromStep: 0, toStep: 5, count: 6, min: 1, max: 3, last: 2, nan: 1, posInf: 1, negInf: 1 });
    const only = new Envelope();
    only.add(7, Number.NaN);
    expect(only.toBucket()).toMatchObject({ min: null, max: null, last: 'NaN' });
  });

  it('never returns more buckets than asked and merges whole summaries only when they fit one bucket', () => {
    const b = new Bucketizer(0, 999, 10);
    expect(b.width).toBe(100);
    expect(b.fitsWhole(100, 199)).toBe(true);
    expect(b.fitsWhole(150, 250)).toBe(false);
    expect(b.fitsWhole(950, 1005)).toBe(false);
    for (let s = 0; s < 1000; s++) b.add(s, s);
    const out = b.finish();
    expect(out.length).toBe(10);
    expect(out[3]).toMatchObject({ fromStep: 300, toStep: 399, count: 100, min: 300, max: 399, last: 399 });
  });
});
