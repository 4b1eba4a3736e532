import Type, { type Static } from 'typebox';

export const RUN_STATUSES = ['live', 'stale', 'completed', 'failed', 'stopped'] as const;
export const RunStatus = Type.Union([
  Type.Literal('live'),
  Type.Literal('stale'),
  Type.Literal('completed'),
  Type.Literal('failed'),
  Type.Literal('stopped'),
]);
export type RunStatus = Static<typeof RunStatus>;

export const EndStatus = Type.Union([
  Type.Literal('completed'),
  Type.Literal('failed'),
  Type.Literal('stopped'),
]);
export type EndStatus = Static<typeof EndStatus>;

/** Ids travel in URLs and series names: keep them to a safe, bounded alphabet. */
export const RunId = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' });
export const ProjectName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$' });
