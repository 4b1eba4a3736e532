import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSteps, decodeValues, encodeSteps, encodeValues } from '../../src/points/chunk-codec.js';
import { f64Buffer } from '../../src/points/packed.js';

const bits = (f: Float64Array) => Array.from(new Uint32Array(f.buffer, f.byteOffset, f.length * 2));

describe('chunk codec', () => {
  it('round-trips any doubles bit for bit, NaN and ±Infinity included', () => {
    fc.assert(
      fc.property(fc.array(fc.double(), { minLength: 1, maxLength: 300 }), (vals) => {
        const back = decodeValues(encodeValues(vals), vals.length);
        expect(bits(back)).toEqual(bits(Float64Array.from(vals)));
      }),
      { numRuns: 300 },
    );
  });

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

  it('still reads raw float64 chunks written before it', () => {
    const steps = [3, 4, 9];
    expect(Array.from(decodeSteps(f64Buffer(steps), 3))).toEqual(steps);
    expect(Array.from(decodeValues(f64Buffer([1.5, Number.NaN, -Infinity]), 3))).toEqual([1.5, Number.NaN, -Infinity]);
  });

  it('never writes a blob of exactly count × 8 bytes (that length means raw)', () => {
    for (let n = 1; n < 40; n++) {
      const vals = Array.from({ length: n }, (_, i) => Math.random() * 1e9 + i);
      expect(encodeValues(vals).length).not.toBe(n * 8);
      expect(encodeSteps(vals.map((_, i) => i * 7919 + (i % 3))).length).not.toBe(n * 8);
    }
  });

  it('stores evenly spaced steps in about a bit each and float32-valued stats in under half of a float64', () => {
    const steps = Array.from({ length: 128 }, (_, i) => 1000 + i);
    expect(encodeSteps(steps).length).toBeLessThan(30);
    const f32 = Float32Array.from({ length: 128 }, (_, i) => 0.5 + Math.sin(i / 5) * 0.1 + Math.random() * 0.01);
    expect(encodeValues(Array.from(f32)).length).toBeLessThan(128 * 4.5);
  });
});
