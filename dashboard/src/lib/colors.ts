/** Tableau-10: distinct categorical colours that read on both light and dark backgrounds. */
export const PALETTE = [
  '#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2',
  '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#79706e',
] as const;

export const colorAt = (i: number): string => PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length] as string;

/** Markers use colours no series gets, so a NaN never looks like a data point. */
export const MARKER_COLORS = { nan: '#d62728', posInf: '#9467bd', negInf: '#17becf' } as const;

export function alpha(hex: string, a: number): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}
