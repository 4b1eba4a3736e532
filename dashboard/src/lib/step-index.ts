import type { StepTimes, XAxis } from '@gradwatch/shared';

export type StepTriple = StepTimes['steps'][number];

/** Binary search: index of the last entry <= v, or -1. */
function floorIndex(a: ArrayLike<number>, n: number, v: number): number {
  let lo = 0;
  let hi = n - 1;
  let ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((a[mid] as number) <= v) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

function interp(xs: ArrayLike<number>, ys: ArrayLike<number>, n: number, x: number): number | null {
  if (n === 0) return null;
  const i = floorIndex(xs, n, x);
  if (i < 0) return ys[0] as number;
  if (i >= n - 1) return ys[n - 1] as number;
  const x0 = xs[i] as number;
  const x1 = xs[i + 1] as number;
  const y0 = ys[i] as number;
  const y1 = ys[i + 1] as number;
  return x1 === x0 ? y0 : y0 + ((x - x0) / (x1 - x0)) * (y1 - y0);
}

/**
 * Maps steps to wall-clock time and epoch and back, from the run's step index, so every chart
 * can put time or epoch on its x axis while the data stays keyed by step. Epochs become
 * fractional (epoch + position within it) so the points of one epoch do not stack on one x.
 */
export class StepIndex {
  private steps: number[] = [];
  private times: number[] = [];
  private epochX: number[] = [];
  private rawEpochs: Array<number | null> = [];

  get size(): number {
    return this.steps.length;
  }

  get lastStep(): number | null {
    return this.steps.length ? (this.steps[this.steps.length - 1] as number) : null;
  }

  /** A copy to extend: whoever holds this index keeps seeing what it saw. */
  clone(): StepIndex {
    const c = new StepIndex();
    c.steps = this.steps.slice();
    c.times = this.times.slice();
    c.epochX = this.epochX.slice();
    c.rawEpochs = this.rawEpochs.slice();
    return c;
  }

  /** Adds triples in step order (older or duplicate steps are ignored). */
  add(triples: readonly StepTriple[]): void {
    for (const [step, time, epoch] of triples) {
      const last = this.lastStep;
      if (last !== null && step <= last) continue;
      this.steps.push(step);
      // A missing time reuses the previous one, so the axis never runs backwards.
      this.times.push(time ?? (this.times.length ? (this.times[this.times.length - 1] as number) : 0));
      this.rawEpochs.push(epoch);
    }
    this.recomputeEpochs();
  }

  private recomputeEpochs(): void {
    const n = this.steps.length;
    this.epochX = new Array<number>(n);
    let i = 0;
    while (i < n) {
      const e = this.rawEpochs[i] ?? null;
      let j = i;
      while (j + 1 < n && (this.rawEpochs[j + 1] ?? null) === e) j++;
      const base = e ?? 0;
      const len = j - i + 1;
      for (let k = i; k <= j; k++) this.epochX[k] = base + (k - i) / len;
      i = j + 1;
    }
  }

  /** The x of a step on the chosen axis (ms since 1970 for time); null if the index is empty. */
  x(step: number, axis: XAxis): number | null {
    if (axis === 'step') return step;
    const n = this.steps.length;
    if (n === 0) return null;
    if (axis === 'time') {
      const t = interp(this.steps, this.times, n, step);
      return t === null ? null : t * 1000;
    }
    return interp(this.steps, this.epochX, n, step);
  }

  /** The step at an x of the chosen axis: the inverse of x(), for zooming. */
  step(x: number, axis: XAxis): number {
    if (axis === 'step') return x;
    const n = this.steps.length;
    if (n === 0) return x;
    const xs = axis === 'time' ? this.times.map((t) => t * 1000) : this.epochX;
    return Math.round(interp(xs, this.steps, n, x) ?? 0);
  }

  /** Wall-clock seconds of the first and last indexed step. */
  timeSpan(): [number, number] | null {
    const n = this.times.length;
    return n ? [this.times[0] as number, this.times[n - 1] as number] : null;
  }

  /** Steps per second over windows of about `window` indexed steps, as [step, rate] pairs. */
  rates(window = 50): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    const n = this.steps.length;
    const w = Math.max(1, Math.min(window, Math.floor(n / 4) || 1));
    for (let i = w; i < n; i += w) {
      const dt = (this.times[i] as number) - (this.times[i - w] as number);
      const ds = (this.steps[i] as number) - (this.steps[i - w] as number);
      if (dt > 0) out.push([this.steps[i] as number, ds / dt]);
    }
    return out;
  }
}
