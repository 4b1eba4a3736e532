import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSteps, encodeSteps } from '../../src/points/chunk-codec.js';
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
