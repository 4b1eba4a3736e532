import Type, { type Static } from 'typebox';

/**
 * JSON has no NaN or Infinity, so they travel as these strings. A NaN loss is the most
 * important point of a run: every schema that carries a measurement accepts them.
 */
export const NonFiniteMarker = Type.Union([
  Type.Literal('NaN'),
  Type.Literal('Infinity'),
  Type.Literal('-Infinity'),
]);
export type NonFiniteMarker = Static<typeof NonFiniteMarker>;

export const Num = Type.Union([Type.Number(), NonFiniteMarker], {
  description: 'A number; NaN and ±Infinity are sent as "NaN", "Infinity", "-Infinity".',
});
export type Num = Static<typeof Num>;

/** Decodes a wire number (or marker) into a JS number. */
export function decodeNum(v: Num): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return Number.NaN;
  return v === 'Infinity' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
}

/** Encodes a JS number for JSON, keeping NaN and ±Infinity as markers. */
export function encodeNum(v: number): Num {
  if (Number.isFinite(v)) return v;
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? 'Infinity' : '-Infinity';
}
