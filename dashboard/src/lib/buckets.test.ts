import { describe, expect, it } from 'vitest';
import { bucketColumns } from '@gradwatch/shared/wire';
import { appendPoints, binsOf, mergeBins, pointBin } from './buckets';
import { BinBuffer } from './stores/bin-buffer.svelte';

describe('bins', () => {
  it('decodes wire markers in a bucket, keeping NaN distinct from ±Infinity', () => {
    const rows = [
      { fromStep: 1, toStep: 4, count: 4, min: 0.1, max: 0.9, last: 'NaN' as const, nan: 1, posInf: 0, negInf: 0 },
      { fromStep: 5, toStep: 5, count: 1, min: null, max: null, last: '-Infinity' as const, nan: 0, posInf: 0, negInf: 1 },
      { fromStep: 9, toStep: 12, count: 2, min: -2, max: 3, last: 3, nan: 0, posInf: 0, negInf: 0 },
    ];
    const [a, b, c] = binsOf(bucketColumns('x', 1, rows));
    expect(Number.isNaN(a?.last)).toBe(true);
    expect(a).toMatchObject({ fromStep: 1, toStep: 4, count: 4, min: 0.1, max: 0.9, nan: 1 });
    expect(b).toMatchObject({ last: -Infinity, min: null, max: null, negInf: 1 });
    expect(c).toEqual(rows[2]);
    expect(pointBin(3, 'Infinity')).toMatchObject({ posInf: 1, nan: 0, min: null, last: Infinity });
    expect(pointBin(3, '-Infinity')).toMatchObject({ negInf: 1, min: null });
    expect(pointBin(3, 0.5)).toMatchObject({ min: 0.5, max: 0.5, nan: 0 });
  });

  it('merges neighbours into one envelope that keeps every non-finite count', () => {
    const m = mergeBins(pointBin(1, 2), pointBin(2, 'NaN'));
    expect(m).toMatchObject({ fromStep: 1, toStep: 2, count: 2, min: 2, max: 2, nan: 1 });
    expect(Number.isNaN(m.last)).toBe(true);
  });

  it('appends live points after the last step only', () => {
    const buf = new BinBuffer(100);
    buf.replace([pointBin(0, 1), pointBin(10, 2)]);
    expect(buf.append([[10, 5]])).toBe(false);
    expect(buf.append([[5, 5]])).toBe(false);
    expect(buf.append([[11, 5]])).toBe(true);
    expect(buf.lastStep).toBe(11);
  });

  it('merges a REST answer and live points that overlap by step, keeping each step once', () => {
    const fetched = [pointBin(0, 1), pointBin(1, 2), pointBin(2, 3)];
    const merged = appendPoints(fetched, [[1, 9], [2, 9], [3, 4], [3, 7], [5, 'NaN']], 100);
    expect(merged?.map((b) => [b.toStep, b.last])).toEqual([[0, 1], [1, 2], [2, 3], [3, 4], [5, Number.NaN]]);
    expect(appendPoints(fetched, [[2, 1]], 100)).toBeNull();
  });

  it('stays within capacity however long it streams, and never loses a NaN', () => {
    const buf = new BinBuffer(64);
    for (let s = 0; s < 10_000; s++) buf.append([[s, s === 4321 ? 'NaN' : Math.sin(s)]]);
    expect(buf.bins.length).toBeLessThanOrEqual(64);
    const nan = buf.bins.filter((b) => b.nan > 0);
    expect(nan).toHaveLength(1);
    expect(nan[0]?.fromStep).toBeLessThanOrEqual(4321);
    expect(nan[0]?.toStep).toBeGreaterThanOrEqual(4321);
    expect(buf.bins.reduce((a, b) => a + b.count, 0)).toBe(10_000);
  });
});
