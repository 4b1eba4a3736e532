import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSteps, decodeVals, encodeSteps, encodeVals } from '../../src/points/chunk-codec.js';
import { f64Buffer } from '../../src/points/packed.js';

describe('chunk steps codec', () => {
  it('round-trips increasing steps, evenly spaced or not', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 2 ** 40 }), { minLength: 0, maxLength: 300 }), fc.integer({ min: 0, max: 2 ** 52 }), (gaps, first) => {
        const steps: number[] = [];
        let s = first;
        for (const g of [0, ...gaps]) {
          s += g;
          if (s > Number.MAX_SAFE_INTEGER) break;
          steps.push(s);
        }
        expect(Array.from(decodeSteps(encodeSteps(steps), steps.length))).toEqual(steps);
      }),
      { numRuns: 300 },
    );
  });

  it('still reads raw float64 steps written before it', () => {
    expect(Array.from(decodeSteps(f64Buffer([3, 4, 9]), 3))).toEqual([3, 4, 9]);
  });

  it('never writes a blob of exactly count × 8 bytes (that length means raw)', () => {
    for (let n = 1; n < 60; n++) {
      const steps = Array.from({ length: n }, (_, i) => i * 7919 + ((i * i) % 13));
      expect(encodeSteps(steps).length).not.toBe(n * 8);
    }
  });

  it('stores evenly spaced steps in about a bit each', () => {
    expect(encodeSteps(Array.from({ length: 128 }, (_, i) => 1000 + i)).length).toBeLessThan(30);
  });
});

describe('chunk values codec', () => {
  it('keeps float32 values in 4 bytes and any others in 8, exactly, NaN, ±Infinity and -0 included', () => {
    const f32 = fc.float({ noNaN: false }).map((v) => (Object.is(v, -0) ? -0 : v));
    fc.assert(
      fc.property(fc.array(f32, { minLength: 1, maxLength: 200 }), fc.option(fc.double({ noNaN: true }), { freq: 3 }), (vals, odd) => {
        const all = odd === null ? vals : [...vals, odd];
        const blob = encodeVals(all);
        const narrow = all.every((v) => Object.is(Math.fround(v), v) || Number.isNaN(v));
        expect(blob.length).toBe(all.length * (narrow ? 4 : 8));
        const back = Array.from(decodeVals(blob, all.length));
        back.forEach((v, i) => expect(Object.is(v, all[i]) || (Number.isNaN(v) && Number.isNaN(all[i]))).toBe(true));
      }),
      { numRuns: 300 },
    );
  });

  it('still reads the float64 values of chunks written before it, and unaligned blobs', () => {
    expect(Array.from(decodeVals(f64Buffer([0.1, 2, Number.NaN]), 3))).toEqual([0.1, 2, Number.NaN]);
    const shifted = Buffer.concat([Buffer.alloc(1), encodeVals([0.5, -3])]).subarray(1);
    expect(Array.from(decodeVals(shifted, 2))).toEqual([0.5, -3]);
  });
});
