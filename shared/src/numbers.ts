import Type, { type Static } from 'typebox';

export * from './wire/numbers.js';

/** The schema of a non-finite marker (see wire/numbers.ts for the encoding). */
export const NonFiniteMarkerSchema = Type.Union([
  Type.Literal('NaN'),
  Type.Literal('Infinity'),
  Type.Literal('-Infinity'),
]);

export const Num = Type.Union([Type.Number(), NonFiniteMarkerSchema], {
  description: 'A number; NaN and ±Infinity are sent as "NaN", "Infinity", "-Infinity".',
});
export type Num = Static<typeof Num>;

/**
 * A measurement on the ingest socket: a number, a marker, or (from a MessagePack binary frame,
 * docs/protocol.md "Binary frames") a raw NaN or ±Infinity float. JSON.parse never yields a
 * non-finite number, so JSON text frames accept exactly what `Num` accepts. The raw branch is a
 * refinement, tried only after the finite-number and marker branches fail (a finite number costs
 * what it did). Only the ingest schemas use it; REST and live keep `Num`.
 */
const RawNonFinite = Type.Unsafe<number>(
  Type.Refine(Type.Unknown(), (v) => typeof v === 'number' && !Number.isFinite(v), () => 'must be number'),
);
export const MeasuredNum = Type.Union([Type.Number(), NonFiniteMarkerSchema, RawNonFinite], {
  description: 'A number; NaN and ±Infinity are sent as "NaN", "Infinity", "-Infinity" (or as raw floats in a MessagePack frame).',
});
