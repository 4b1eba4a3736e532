import type { Bucket, Num } from '@gradwatch/shared';
import { decodeNum, nonFiniteKind } from '@gradwatch/shared/wire';

/** A query bucket with `last` decoded to a JS number (NaN and ±Infinity kept as such). */
export interface Bin {
  fromStep: number;
  toStep: number;
  count: number;
  /** Over finite values; null when the bin holds none. */
  min: number | null;
  max: number | null;
  last: number;
  nan: number;
  posInf: number;
  negInf: number;
}

export function fromBucket(b: Bucket): Bin {
  return { ...b, last: decodeNum(b.last) };
}

/** One point as a bin of its own: how live points join the buffers. */
export function pointBin(step: number, raw: Num | number): Bin {
  const v = typeof raw === 'number' ? raw : decodeNum(raw);
  const k = nonFiniteKind(v);
  return {
    fromStep: step, toStep: step, count: 1,
    min: k ? null : v, max: k ? null : v, last: v,
    nan: k === 'nan' ? 1 : 0, posInf: k === 'posInf' ? 1 : 0, negInf: k === 'negInf' ? 1 : 0,
  };
}

const minN = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
const maxN = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

/** Two adjacent bins as one envelope: non-finite counts add up, so a NaN never disappears. */
export function mergeBins(a: Bin, b: Bin): Bin {
  return {
    fromStep: a.fromStep, toStep: b.toStep, count: a.count + b.count,
    min: minN(a.min, b.min), max: maxN(a.max, b.max), last: b.last,
    nan: a.nan + b.nan, posInf: a.posInf + b.posInf, negInf: a.negInf + b.negInf,
  };
}

/**
 * The bins of one series on screen, bounded: live points are appended as single-step bins, and
 * when the buffer passes its capacity every pair of neighbours is merged, halving its length.
 * Memory stays fixed however long a run streams, and non-finite counts survive every merge.
 */
export class BinBuffer {
  private bins: Bin[] = [];
  constructor(readonly capacity = 2000) {}

  get length(): number {
    return this.bins.length;
  }

  get all(): readonly Bin[] {
    return this.bins;
  }

  get lastStep(): number | null {
    return this.bins.length ? (this.bins[this.bins.length - 1] as Bin).toStep : null;
  }

  replace(bins: Bin[]): void {
    this.bins = bins;
    this.compact();
  }

  /** Appends a point; points at or before the last step are already covered and are skipped. */
  append(step: number, value: Num | number): boolean {
    const last = this.lastStep;
    if (last !== null && step <= last) return false;
    this.bins.push(pointBin(step, value));
    this.compact();
    return true;
  }

  clear(): void {
    this.bins = [];
  }

  private compact(): void {
    while (this.bins.length > this.capacity) {
      const out: Bin[] = [];
      for (let i = 0; i < this.bins.length; i += 2) {
        const a = this.bins[i] as Bin;
        const b = this.bins[i + 1];
        out.push(b ? mergeBins(a, b) : a);
      }
      this.bins = out;
    }
  }
}
