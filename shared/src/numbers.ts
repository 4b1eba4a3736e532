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
