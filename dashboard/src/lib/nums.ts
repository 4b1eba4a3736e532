import type { Num } from '@gradwatch/shared';

/**
 * Wire numbers: JSON has no NaN, so the server sends "NaN", "Infinity" and "-Infinity".
 * Decoded here rather than with the shared package's decodeNum so the browser bundle does not
 * pull in the schema library that the shared package's runtime exports are built on.
 */
export function decodeNum(v: Num | null | undefined): number {
  if (typeof v === 'number') return v;
  if (v === 'Infinity') return Number.POSITIVE_INFINITY;
  if (v === '-Infinity') return Number.NEGATIVE_INFINITY;
  return Number.NaN;
}

/** Which kind of non-finite a value is, or null for a finite one. */
export function nonFiniteKind(v: number): 'nan' | 'posInf' | 'negInf' | null {
  if (Number.isNaN(v)) return 'nan';
  if (v === Number.POSITIVE_INFINITY) return 'posInf';
  if (v === Number.NEGATIVE_INFINITY) return 'negInf';
  return null;
}
