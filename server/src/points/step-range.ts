/** A range of steps; null bounds when there is none. */
export interface StepRange {
  lo: number | null;
  hi: number | null;
}

/** The smallest range holding both (a null bound is no bound). */
export function unionRange(a: StepRange, b: StepRange): StepRange {
  const pick = (x: number | null, y: number | null, f: (p: number, q: number) => number): number | null =>
    x === null ? y : y === null ? x : f(x, y);
  return { lo: pick(a.lo, b.lo, Math.min), hi: pick(a.hi, b.hi, Math.max) };
}
