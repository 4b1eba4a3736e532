import type { XAxis } from '@gradwatch/shared';
import type { Bin } from './buckets';
import type { StepIndex } from './step-index';

export interface XY {
  x: number;
  y: number | null;
}

export type MarkerKind = 'nan' | 'posInf' | 'negInf';

/** A non-finite value drawn as a marker: at its step, on a hidden 0..1 axis, never as a number. */
export interface Marker extends XY {
  y: number;
  kind: MarkerKind;
  series: string;
  fromStep: number;
  toStep: number;
  count: number;
}

/** Heights of the markers on their own 0..1 axis: +Inf at the top, -Inf at the bottom. */
export const MARKER_Y: Record<MarkerKind, number> = { posInf: 0.95, nan: 0.5, negInf: 0.05 };

export interface ShapeOptions {
  axis: XAxis;
  index?: StepIndex | null;
  /** 'log10' charts a log of the value (standard deviations, as the DL4J overview does). */
  transform?: 'log10';
  logY?: boolean;
  /** Draw the envelope even for single-point bins (a mean ± std band). */
  envelope?: boolean;
}

export interface Shaped {
  label: string;
  line: XY[];
  lo: XY[];
  hi: XY[];
  /** True when some bin stands for several points, so the min/max envelope is worth drawing. */
  coarse: boolean;
  markers: Marker[];
}

function yOf(v: number | null, o: ShapeOptions): number | null {
  if (v === null || !Number.isFinite(v)) return null;
  let y = v;
  if (o.transform === 'log10') y = v > 0 ? Math.log10(v) : Number.NaN;
  if (o.logY && !(y > 0)) return null;
  return Number.isFinite(y) ? y : null;
}

/**
 * Turns a series' bins into what a chart draws: a line through each bin's last value, the
 * min/max envelope of coarse bins, and a marker per kind of non-finite value. A bin whose last
 * value is non-finite leaves a gap in the line (never a 0), and its marker says what it was.
 */
export function shapeSeries(label: string, bins: readonly Bin[], o: ShapeOptions): Shaped {
  const line: XY[] = [];
  const lo: XY[] = [];
  const hi: XY[] = [];
  const markers: Marker[] = [];
  let coarse = o.envelope ?? false;
  for (const b of bins) {
    const x = o.index ? o.index.x(b.toStep, o.axis) : o.axis === 'step' ? b.toStep : null;
    if (x === null) continue;
    if (b.count > 1) coarse = true;
    line.push({ x, y: yOf(b.last, o) });
    // The envelope is of the transformed values: log10 keeps order, so min maps to min.
    lo.push({ x, y: yOf(b.min, o) });
    hi.push({ x, y: yOf(b.max, o) });
    if (b.nan + b.posInf + b.negInf === 0) continue;
    // A single-step bin puts the marker on its exact step; a wider one at its first step,
    // and the tooltip names the range (zooming in re-queries down to the step).
    const mx = b.count === 1 ? x : (o.index ? o.index.x(b.fromStep, o.axis) : b.fromStep) ?? x;
    for (const kind of ['nan', 'posInf', 'negInf'] as const) {
      const count = b[kind];
      if (count > 0) markers.push({ x: mx, y: MARKER_Y[kind], kind, series: label, fromStep: b.fromStep, toStep: b.toStep, count });
    }
  }
  return { label, line, lo, hi, coarse, markers };
}

/**
 * Exponential moving average with TensorBoard's debiasing, so the start is not dragged to 0.
 * Gaps stay gaps; the average carries across them.
 */
export function ema(points: readonly XY[], weight: number): XY[] {
  if (weight <= 0) return points.slice();
  let acc = 0;
  let n = 0;
  return points.map((p) => {
    if (p.y === null) return { x: p.x, y: null };
    acc = acc * weight + (1 - weight) * p.y;
    n++;
    return { x: p.x, y: acc / (1 - weight ** n) };
  });
}

/**
 * A mean series with its std as bins whose envelope is mean - std .. mean + std, so the chart's
 * envelope drawing shows the band. Bins pair up by step; the mean's non-finite counts are kept.
 */
export function meanStdBins(mean: readonly Bin[], std: readonly Bin[]): Bin[] {
  const byStep = new Map<number, number>();
  for (const b of std) byStep.set(b.toStep, b.last);
  return mean.map((b) => {
    const s = byStep.get(b.toStep);
    const ok = s !== undefined && Number.isFinite(s) && Number.isFinite(b.last);
    return { ...b, min: ok ? b.last - (s as number) : null, max: ok ? b.last + (s as number) : null };
  });
}

/** Finite y range of some points, for fitting an axis; null if none. */
export function yExtent(points: readonly XY[]): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of points) {
    if (p.y === null) continue;
    if (p.y < lo) lo = p.y;
    if (p.y > hi) hi = p.y;
  }
  return lo <= hi ? [lo, hi] : null;
}
