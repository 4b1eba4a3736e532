import { describe, expect, it } from 'vitest';
import { pointBin, type Bin } from './buckets';
import { prefersLog } from './log-axis';

const series = (vals: Array<number | 'NaN' | 'Infinity'>, transform?: 'log10') => ({
  bins: (): Bin[] => vals.map((v, i) => pointBin(i, v)),
  ...(transform ? { transform } : {}),
});

describe('prefersLog', () => {
  it('picks a log axis for a loss that explodes, so the start of the climb shows', () => {
    const loss = [2.3, 2.1, 1.9, 1.8, 4, 80, 3e5, 1e40, 1e304, 'NaN' as const];
    expect(prefersLog([series(loss)])).toBe(true);
  });

  it('picks one for rates that differ by orders of magnitude across overlaid runs', () => {
    expect(prefersLog([series([8, 8, 8]), series([1e-3, 1e-3])])).toBe(true);
    expect(prefersLog([series([0.1, 0.05]), series([0.02, 0.01])])).toBe(false);
  });

  it('stays linear for a loss that falls within two decades, and for a constant', () => {
    expect(prefersLog([series([2.3, 1.2, 0.6, 0.3, 0.1, 0.05])])).toBe(false);
    expect(prefersLog([series([1e-3, 1e-3, 1e-3])])).toBe(false);
  });

  it('stays linear when a value is negative, since a log axis cannot show it', () => {
    expect(prefersLog([series([1e-6, 1e3, -0.5])])).toBe(false);
  });

  it('accepts a few zeros (drawn as gaps) but not many', () => {
    const decay = Array.from({ length: 100 }, (_, i) => 1e-2 * 10 ** (-i / 20));
    expect(prefersLog([series([...decay, 0])])).toBe(true);
    expect(prefersLog([series([...decay, ...Array<number>(20).fill(0)])])).toBe(false);
  });

  it('ignores non-finite values and series already charted in log10', () => {
    expect(prefersLog([series([1, 'Infinity', 2])])).toBe(false);
    expect(prefersLog([series([-4, -3, 1], 'log10')])).toBe(false);
    expect(prefersLog([])).toBe(false);
  });
});
