import type { Bin } from './buckets';

/** Orders of magnitude the positive values must span before a chart picks a log axis itself. */
export const LOG_DECADES = 3;
/** Zeros a log axis may leave out (as gaps) and still be the better choice. */
export const MAX_ZERO_SHARE = 0.05;

export interface AxisSeries {
  bins: () => readonly Bin[];
  /** Series already charted as log10 (ratios, standard deviations) never want a log axis. */
  transform?: 'log10';
}

/**
 * Whether a chart reads better on a log y axis: its values span LOG_DECADES or more (a loss that
 * explodes, an lr sweep, grad norms of different layers). A log axis cannot show a negative
 * value, so any negative keeps the axis linear; zeros are drawn as gaps, so only a few may be
 * left out. Non-finite values do not count: they are markers, not numbers on the axis.
 */
export function prefersLog(series: readonly AxisSeries[]): boolean {
  let lo = Infinity;
  let hi = -Infinity;
  let zeros = 0;
  let n = 0;
  for (const s of series) {
    if (s.transform) return false;
    for (const b of s.bins()) {
      for (const v of [b.min, b.max, b.last]) {
        if (v === null || !Number.isFinite(v)) continue;
        if (v < 0) return false;
        n++;
        if (v === 0) zeros++;
        else {
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
    }
  }
  if (n === 0 || lo > hi || zeros > n * MAX_ZERO_SHARE) return false;
  return Math.log10(hi / lo) >= LOG_DECADES;
}
