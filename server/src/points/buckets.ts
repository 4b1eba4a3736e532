import type { Bucket } from '@gradwatch/shared';
import { encodeNum } from '@gradwatch/shared';

/** Kind of a chunk's last value: SQLite cannot hold a NaN REAL, so it is kept beside it. */
export const ValueKind = { Finite: 0, NaN: 1, PosInf: 2, NegInf: 3 } as const;
export type ValueKind = (typeof ValueKind)[keyof typeof ValueKind];

export function kindOf(v: number): ValueKind {
  if (Number.isFinite(v)) return ValueKind.Finite;
  if (v !== v) return ValueKind.NaN;
  return v > 0 ? ValueKind.PosInf : ValueKind.NegInf;
}

export function valueOfKind(kind: number, v: number | null): number {
  switch (kind) {
    case ValueKind.NaN:
      return Number.NaN;
    case ValueKind.PosInf:
      return Number.POSITIVE_INFINITY;
    case ValueKind.NegInf:
      return Number.NEGATIVE_INFINITY;
    default:
      return v ?? Number.NaN;
  }
}

/** Summary of a set of points: the unit both chunks and query buckets are made of. */
export class Envelope {
  fromStep = 0;
  toStep = 0;
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  last = Number.NaN;
  nan = 0;
  posInf = 0;
  negInf = 0;

  add(step: number, v: number): void {
    if (this.count === 0) this.fromStep = step;
    this.toStep = step;
    this.count++;
    this.last = v;
    if (v !== v) this.nan++;
    else if (v === Number.POSITIVE_INFINITY) this.posInf++;
    else if (v === Number.NEGATIVE_INFINITY) this.negInf++;
    else {
      if (v < this.min) this.min = v;
      if (v > this.max) this.max = v;
    }
  }

  merge(o: {
    fromStep: number; toStep: number; count: number; min: number | null; max: number | null;
    last: number; nan: number; posInf: number; negInf: number;
  }): void {
    if (o.count === 0) return;
    if (this.count === 0) this.fromStep = o.fromStep;
    this.toStep = o.toStep;
    this.count += o.count;
    this.last = o.last;
    this.nan += o.nan;
    this.posInf += o.posInf;
    this.negInf += o.negInf;
    if (o.min !== null && o.min < this.min) this.min = o.min;
    if (o.max !== null && o.max > this.max) this.max = o.max;
  }

  get finiteMin(): number | null {
    return this.min === Number.POSITIVE_INFINITY ? null : this.min;
  }

  get finiteMax(): number | null {
    return this.max === Number.NEGATIVE_INFINITY ? null : this.max;
  }

  toBucket(): Bucket {
    return {
      fromStep: this.fromStep,
      toStep: this.toStep,
      count: this.count,
      min: this.finiteMin,
      max: this.finiteMax,
      last: encodeNum(this.last),
      nan: this.nan,
      posInf: this.posInf,
      negInf: this.negInf,
    };
  }
}

/**
 * Splits [lo, hi] into at most maxPoints step buckets and collects points and chunk summaries
 * into them, in step order. Buckets are equal-width, except that a summary no wider than a
 * bucket is kept whole in the bucket where it starts; every bucket reports the steps it
 * actually covers, so the envelope stays exact.
 */
export class Bucketizer {
  readonly width: number;
  readonly out: Bucket[] = [];
  private current: Envelope | null = null;
  private currentIndex = -1;

  constructor(readonly lo: number, readonly hi: number, maxPoints: number) {
    this.width = Math.max(1, Math.ceil((hi - lo + 1) / maxPoints));
  }

  index(step: number): number {
    return Math.floor((step - this.lo) / this.width);
  }

  private at(step: number): Envelope {
    const i = this.index(step);
    if (i !== this.currentIndex || this.current === null) {
      if (this.current !== null && this.current.count > 0) this.out.push(this.current.toBucket());
      this.current = new Envelope();
      this.currentIndex = i;
    }
    return this.current;
  }

  add(step: number, v: number): void {
    if (step < this.lo || step > this.hi) return;
    this.at(step).add(step, v);
  }

  /** True when a summary spanning [from, to] falls inside one bucket and can be merged whole. */
  fitsWhole(from: number, to: number): boolean {
    return from >= this.lo && to <= this.hi && this.index(from) === this.index(to);
  }

  /** True when a summary inside the range is no wider than a bucket: it may go whole into one. */
  absorbs(from: number, to: number): boolean {
    return from >= this.lo && to <= this.hi && to - from < this.width;
  }

  mergeWhole(s: Parameters<Envelope['merge']>[0]): void {
    this.at(s.fromStep).merge(s);
  }

  finish(): Bucket[] {
    if (this.current !== null && this.current.count > 0) this.out.push(this.current.toBucket());
    this.current = null;
    return this.out;
  }
}
