/**
 * Small fixed-size streaming helpers. Every structure here has a size fixed at construction,
 * so a run's rule state never grows with its length.
 */

/** Exponential moving average; undefined until the first value. */
export class Ema {
  value: number | undefined;
  constructor(readonly alpha: number) {}
  push(x: number): number {
    this.value = this.value === undefined ? x : this.value + this.alpha * (x - this.value);
    return this.value;
  }
}

/**
 * "Sustained" = the condition held in at least `need` of the last `size` observations. A
 * count over a ring rather than a consecutive streak, so one noisy step does not reset it.
 */
export class Sustain {
  private readonly ring: Uint8Array;
  private pos = 0;
  private filled = 0;
  count = 0;
  constructor(readonly size: number, readonly need: number) {
    this.ring = new Uint8Array(Math.max(1, size));
  }
  push(hit: boolean): boolean {
    const v = hit ? 1 : 0;
    if (this.filled === this.ring.length) this.count -= this.ring[this.pos] ?? 0;
    else this.filled++;
    this.ring[this.pos] = v;
    this.count += v;
    this.pos = (this.pos + 1) % this.ring.length;
    return this.count >= this.need;
  }
  get observations(): number {
    return this.filled;
  }
}

/** Ring of the last `size` numbers, oldest first when iterated. */
export class Ring {
  private readonly buf: Float64Array;
  private pos = 0;
  length = 0;
  constructor(readonly size: number) {
    this.buf = new Float64Array(Math.max(1, size));
  }
  push(x: number): void {
    this.buf[this.pos] = x;
    this.pos = (this.pos + 1) % this.buf.length;
    if (this.length < this.buf.length) this.length++;
  }
  /** i = 0 is the oldest kept value. */
  at(i: number): number {
    const start = this.length < this.buf.length ? 0 : this.pos;
    return this.buf[(start + i) % this.buf.length] ?? Number.NaN;
  }
  last(): number {
    return this.length === 0 ? Number.NaN : this.at(this.length - 1);
  }
  get full(): boolean {
    return this.length === this.buf.length;
  }
  max(): number {
    let m = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < this.length; i++) m = Math.max(m, this.buf[i] ?? m);
    return m;
  }
}

/**
 * Median of the last `size` values: a ring plus a sorted copy, O(size) per push. Medians are
 * used for spike detection because one outlier cannot drag them the way it drags a mean.
 */
export class RollingMedian {
  private readonly ring: Ring;
  private readonly sorted: Float64Array;
  private n = 0;
  constructor(readonly size: number) {
    this.ring = new Ring(size);
    this.sorted = new Float64Array(size);
  }
  push(x: number): void {
    if (this.ring.full) this.remove(this.ring.at(0));
    this.ring.push(x);
    let i = this.n++;
    while (i > 0 && (this.sorted[i - 1] ?? 0) > x) {
      this.sorted[i] = this.sorted[i - 1] ?? 0;
      i--;
    }
    this.sorted[i] = x;
  }
  private remove(x: number): void {
    let i = 0;
    while (i < this.n && this.sorted[i] !== x) i++;
    for (; i < this.n - 1; i++) this.sorted[i] = this.sorted[i + 1] ?? 0;
    this.n--;
  }
  get count(): number {
    return this.n;
  }
  median(): number {
    if (this.n === 0) return Number.NaN;
    const h = this.n >> 1;
    return this.n % 2 ? (this.sorted[h] ?? Number.NaN) : ((this.sorted[h - 1] ?? 0) + (this.sorted[h] ?? 0)) / 2;
  }
}

/**
 * Mean and variance of consecutive, non-overlapping windows of `size` values (Welford). Loss
 * curves are compared window against window: a window mean is far less noisy than an EMA.
 */
export class WindowMeans {
  private n = 0;
  private mean = 0;
  private m2 = 0;
  /** The window before the last completed one, and the last completed one. */
  prev: { mean: number; se: number } | undefined;
  last: { mean: number; se: number } | undefined;
  first: number | undefined;
  constructor(readonly size: number) {}
  /** Returns true when this value completed a window. */
  push(x: number): boolean {
    this.n++;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
    if (this.n < this.size) return false;
    this.prev = this.last;
    this.last = { mean: this.mean, se: Math.sqrt(this.m2 / Math.max(1, this.n - 1) / this.n) };
    this.first ??= this.mean;
    this.n = 0;
    this.mean = 0;
    this.m2 = 0;
    return true;
  }
}

/** Rounds for evidence: alerts are read by people, 4 significant digits are plenty. */
export function r4(x: number | undefined): number | string | null {
  if (x === undefined) return null;
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  return Number(x.toPrecision(4));
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** Lower-case and strip punctuation, so "LeakyReLU", "leaky_relu" and "leaky-relu" compare equal. */
export function norm(s: string | undefined): string {
  return (s ?? '').toLowerCase().replace(/[^a-z0-9]/g, '');
}

const RELU_ZERO = new Set(['relu', 'relu6', 'leakyrelu', 'prelu', 'rrelu', 'lrelu']);
const RELU_FAMILY = new Set([...RELU_ZERO, 'elu', 'selu', 'celu', 'gelu', 'silu', 'swish', 'mish']);
const SATURATING = new Set(['sigmoid', 'logistic', 'tanh', 'hardtanh', 'hardsigmoid', 'softsign']);

/** The guide's "relu or leaky relu": layers for which He ("ReLU") init is the sensible choice. */
export const isReluLike = (a: string | undefined): boolean => RELU_ZERO.has(norm(a));
/** Rectifier-shaped activations whose variance He init preserves better than Xavier. */
export const isRectifier = (a: string | undefined): boolean => RELU_FAMILY.has(norm(a));
export const isSaturating = (a: string | undefined): boolean => SATURATING.has(norm(a));
export const isIdentity = (a: string | undefined): boolean =>
  ['identity', 'linear', 'none', 'logits'].includes(norm(a));
export const isSoftmax = (a: string | undefined): boolean => norm(a) === 'softmax';
export const isLogSoftmax = (a: string | undefined): boolean => norm(a) === 'logsoftmax';
export const isSigmoid = (a: string | undefined): boolean => ['sigmoid', 'logistic'].includes(norm(a));
export const isRecurrent = (kind: string): boolean => /lstm|gru|rnn|recurrent/i.test(kind);
export const isNormLayer = (kind: string): boolean => /norm/i.test(kind);
export const isEmbedding = (kind: string): boolean => /embed/i.test(kind);
export const isDense = (kind: string): boolean => /^(linear|dense|fc|fullyconnected|denselayer)$/.test(norm(kind));
