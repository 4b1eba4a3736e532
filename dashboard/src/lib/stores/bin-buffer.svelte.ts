import type { Num } from '@gradwatch/shared';
import { appendPoints, compactBins, type Bin } from '../buckets';

/**
 * The bins of one series on screen, bounded: live points are appended as single-step bins, and
 * past its capacity the buffer halves by merging neighbours. `bins` is replaced, never mutated,
 * so whatever reads it (a chart's data) updates when it changes.
 */
export class BinBuffer {
  bins = $state.raw<readonly Bin[]>([]);

  constructor(readonly capacity = 2000) {}

  get lastStep(): number | null {
    const b = this.bins;
    return b.length ? (b[b.length - 1] as Bin).toStep : null;
  }

  replace(bins: readonly Bin[]): void {
    this.bins = compactBins(bins, this.capacity);
  }

  /** Appends the points after the last step; false when every one was already covered. */
  append(points: ReadonlyArray<readonly [number, Num | number]>): boolean {
    const next = appendPoints(this.bins, points, this.capacity);
    if (next) this.bins = next;
    return next !== null;
  }

  clear(): void {
    this.bins = [];
  }
}
