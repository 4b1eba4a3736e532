import { describe, expect, it } from 'vitest';
import { envelopeBars, type PixelPoint } from './envelope-plugin';

const pts = (xs: number[], ys: Array<number | null>): PixelPoint[] => xs.map((x, i) => ({ x, y: ys[i] ?? Number.NaN, skip: ys[i] === null }));

describe('envelopeBars', () => {
  it('closes each bin from the previous point to its own, in whole pixels', () => {
    const bars = envelopeBars(pts([10.2, 12.4, 14.6], [50, 60, 40]), pts([10.2, 12.4, 14.6], [30, 20, 35]));
    expect(bars).toEqual([[9, 10, 30, 50], [10, 12, 20, 60], [12, 15, 35, 40]]);
  });

  it('merges points that fall in one column, so no column is filled twice', () => {
    const bars = envelopeBars(pts([10, 10.3, 10.4, 11], [50, 55, 45, 52]), pts([10, 10.3, 10.4, 11], [40, 30, 42, 41]));
    expect(bars).toEqual([[9, 10, 30, 55], [10, 11, 41, 52]]);
    const cols = bars.flatMap(([a, b]) => Array.from({ length: b - a }, (_, k) => a + k));
    expect(new Set(cols).size).toBe(cols.length);
  });

  it('leaves a gap where either end is missing, and orders a reversed pair', () => {
    const bars = envelopeBars(pts([1, 2, 3, 4], [5, null, 5, 1]), pts([1, 2, 3, 4], [1, 1, Number.POSITIVE_INFINITY, 5]));
    expect(bars).toEqual([[0, 1, 1, 5], [3, 4, 1, 5]]);
  });
});
