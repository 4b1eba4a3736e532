/**
 * Running summaries of the loss and the learning rate, kept by the run context for every rule:
 * EMAs, the starting level and the schedule's shape.
 */
import { Ema } from './util.js';

/** Losses averaged at the start of a run to get its starting level. */
const INITIAL_LOSS_STEPS = 10;

export class LossTracker {
  /** Fast EMA: follows the loss closely, still smooths single-batch noise. */
  readonly fast = new Ema(0.1);
  /** Slow EMA: the level used for plateau and progress questions. */
  readonly slow = new Ema(0.02);
  count = 0;
  initial: number | undefined;
  private initialSum = 0;
  minFast = Number.POSITIVE_INFINITY;
  /** Relative comparisons make no sense for losses that can be negative (log-likelihoods). */
  allNonNegative = true;
  last: number | undefined;

  push(loss: number | undefined): void {
    if (loss === undefined || !Number.isFinite(loss)) return;
    this.last = loss;
    if (loss < 0) this.allNonNegative = false;
    this.count++;
    if (this.count <= INITIAL_LOSS_STEPS) {
      this.initialSum += loss;
      this.initial = this.initialSum / this.count;
    }
    const f = this.fast.push(loss);
    this.slow.push(loss);
    if (this.count >= INITIAL_LOSS_STEPS) this.minFast = Math.min(this.minFast, f);
  }

  /** Fraction of the starting loss that has been removed so far (0 = none, 1 = all). */
  progress(): number | undefined {
    const init = this.initial;
    const now = this.slow.value;
    if (init === undefined || now === undefined || !this.allNonNegative || init <= 0) return undefined;
    return (init - now) / init;
  }
}

export class LrTracker {
  value: number | undefined;
  max = 0;
  private readonly ema = new Ema(0.05);
  /** lr above its recent average: a warm-up in progress. */
  rising = false;

  push(lr: number | undefined): void {
    if (lr === undefined || !Number.isFinite(lr)) return;
    const prev = this.ema.value;
    this.ema.push(lr);
    this.rising = prev !== undefined && lr > prev * 1.001;
    this.value = lr;
    this.max = Math.max(this.max, lr);
  }

  /** The schedule has the rate well below its peak (warm-up start or decay tail). */
  scheduledLow(frac: number): boolean {
    return this.value !== undefined && (this.rising || this.value < frac * this.max);
  }
}
