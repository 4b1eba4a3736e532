import { describe, expect, it } from 'vitest';
import { pointBin, type Bin } from './buckets';
import { ema, MARKER_Y, meanStdBins, shapeSeries } from './chart-data';
import { StepIndex } from './step-index';

const bins = (vals: Array<number | 'NaN' | 'Infinity' | '-Infinity'>): Bin[] => vals.map((v, i) => pointBin(i * 10, v));

describe('shapeSeries', () => {
  it('puts each kind of non-finite value at its step as its own marker, and leaves a gap in the line', () => {
    const s = shapeSeries('loss', bins([1, 'NaN', 0.5, 'Infinity', '-Infinity']), { axis: 'step' });
    expect(s.line.map((p) => p.y)).toEqual([1, null, 0.5, null, null]);
    expect(s.markers.map((m) => [m.kind, m.x, m.y])).toEqual([
      ['nan', 10, MARKER_Y.nan], ['posInf', 30, MARKER_Y.posInf], ['negInf', 40, MARKER_Y.negInf],
    ]);
    // Never a 0 where the value was not a number.
    expect(s.line.some((p) => p.y === 0)).toBe(false);
  });

  it('marks a coarse bin with non-finite values at its first step with the count', () => {
    const b: Bin = { fromStep: 100, toStep: 199, count: 100, min: 0.1, max: 0.9, last: 0.2, nan: 3, posInf: 0, negInf: 0 };
    const s = shapeSeries('loss', [b], { axis: 'step' });
    expect(s.coarse).toBe(true);
    expect(s.markers[0]).toMatchObject({ x: 100, count: 3, fromStep: 100, toStep: 199 });
    expect(s.lo[0]?.y).toBe(0.1);
    expect(s.hi[0]?.y).toBe(0.9);
  });

  it('charts log10 of the value when asked (standard deviations), with a gap for 0', () => {
    const s = shapeSeries('act', bins([100, 0.01, 0]), { axis: 'step', transform: 'log10' });
    expect(s.line.map((p) => p.y)).toEqual([2, -2, null]);
  });

  it('drops non-positive values on a log axis instead of drawing them', () => {
    const s = shapeSeries('x', bins([1, -1, 0, 10]), { axis: 'step', logY: true });
    expect(s.line.map((p) => p.y)).toEqual([1, null, null, 10]);
  });

  it('maps steps to time or epoch through the step index', () => {
    const idx = new StepIndex();
    idx.add([[0, 100, 0], [10, 101, 0], [20, 102, 1], [30, 103, 1]]);
    expect(shapeSeries('x', bins([1, 2]), { axis: 'time', index: idx }).line.map((p) => p.x)).toEqual([100_000, 101_000]);
    expect(shapeSeries('x', bins([1, 2, 3]), { axis: 'epoch', index: idx }).line.map((p) => p.x)).toEqual([0, 0.5, 1]);
  });
});

describe('ema', () => {
  it('is debiased (starts at the first value) and carries across gaps', () => {
    const out = ema([{ x: 0, y: 10 }, { x: 1, y: null }, { x: 2, y: 10 }], 0.9);
    expect(out[0]?.y).toBeCloseTo(10);
    expect(out[1]?.y).toBeNull();
    expect(out[2]?.y).toBeCloseTo(10);
  });

  it('is the identity at weight 0', () => {
    expect(ema([{ x: 0, y: 3 }], 0)).toEqual([{ x: 0, y: 3 }]);
  });
});

describe('meanStdBins', () => {
  it('turns mean and std into a band by step and keeps the mean markers', () => {
    const out = meanStdBins(bins([1, 'NaN', 3]), bins([0.5, 0.5, 1]));
    expect(out.map((b) => [b.min, b.max])).toEqual([[0.5, 1.5], [null, null], [2, 4]]);
    expect(out[1]?.nan).toBe(1);
  });
});
