import type { Bucket, SeriesColumns } from '../rest.js';

/** One series' buckets as the parallel arrays of a columns query (`QueryColumns`). */
export function bucketColumns(name: string, firstNonFiniteStep: number | null, buckets: readonly Bucket[]): SeriesColumns {
  const n = buckets.length;
  const c: SeriesColumns = {
    name, firstNonFiniteStep,
    fromStep: new Array<number>(n), toStep: new Array<number>(n), count: new Array<number>(n),
    min: new Array<number | null>(n), max: new Array<number | null>(n), last: new Array<Bucket['last']>(n),
    nan: new Array<number>(n), posInf: new Array<number>(n), negInf: new Array<number>(n),
  };
  for (let i = 0; i < n; i++) {
    const b = buckets[i] as Bucket;
    c.fromStep[i] = b.fromStep;
    c.toStep[i] = b.toStep;
    c.count[i] = b.count;
    c.min[i] = b.min;
    c.max[i] = b.max;
    c.last[i] = b.last;
    c.nan[i] = b.nan;
    c.posInf[i] = b.posInf;
    c.negInf[i] = b.negInf;
  }
  return c;
}
