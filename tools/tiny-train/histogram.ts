/**
 * Histograms as the `hist` message carries them: equal-width bins over the finite values' range
 * (edges one longer than counts). Non-finite elements are left out; the stats' `nonFinite` counts them.
 */
export interface Histogram {
  edges: number[];
  counts: number[];
}

export function histogram(x: Float64Array, bins = 32): Histogram | null {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of x) {
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min > max) return null;
  // A constant tensor (a zero init, an unchanged layer) still gets one visible bar.
  if (min === max) {
    const pad = min === 0 ? 1e-6 : Math.abs(min) * 1e-6;
    min -= pad;
    max += pad;
  }
  const width = (max - min) / bins;
  if (!Number.isFinite(width)) return null;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? max : min + i * width));
  const counts = new Array<number>(bins).fill(0);
  for (const v of x) {
    if (!Number.isFinite(v)) continue;
    const i = Math.min(bins - 1, Math.floor((v - min) / width));
    counts[i] = (counts[i] ?? 0) + 1;
  }
  return { edges, counts };
}
