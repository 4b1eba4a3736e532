import type { Num, SeriesColumns } from '@gradwatch/shared';
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

/** A columns query's series as bins, wire markers in `last` decoded. */
export function binsOf(c: SeriesColumns): Bin[] {
  const out = new Array<Bin>(c.fromStep.length);
  for (let i = 0; i < out.length; i++) {
    out[i] = {
      fromStep: c.fromStep[i] as number, toStep: c.toStep[i] as number, count: c.count[i] as number,
      min: c.min[i] ?? null, max: c.max[i] ?? null, last: decodeNum(c.last[i] as Num),
      nan: c.nan[i] as number, posInf: c.posInf[i] as number, negInf: c.negInf[i] as number,
    };
  }
  return out;
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
 * Halves a list of bins (merging neighbour pairs) until it fits `capacity`: memory stays fixed
 * however long a run streams, and non-finite counts survive every merge.
 */
export function compactBins(bins: readonly Bin[], capacity: number): Bin[] {
  let out = bins.slice();
  while (out.length > capacity) {
    const next: Bin[] = [];
    for (let i = 0; i < out.length; i += 2) {
      const a = out[i] as Bin;
      const b = out[i + 1];
      next.push(b ? mergeBins(a, b) : a);
    }
    out = next;
  }
  return out;
}

/**
 * Live points after a series' bins, merged by step: a point at or before the last step is
 * already covered (the REST answer and the live stream overlap) and is skipped.
 */
export function appendPoints(bins: readonly Bin[], points: ReadonlyArray<readonly [number, Num | number]>, capacity: number): Bin[] | null {
  let last = bins.length ? (bins[bins.length - 1] as Bin).toStep : null;
  const add: Bin[] = [];
  for (const [step, v] of points) {
    if (last !== null && step <= last) continue;
    add.push(pointBin(step, v));
    last = step;
  }
  return add.length ? compactBins(bins.concat(add), capacity) : null;
}
