import Type, { type Static } from 'typebox';
import { Alert } from '../alert.js';
import { csvOf } from './params.js';

export const SEVERITIES = ['info', 'warning', 'critical'] as const;

export const AlertQuery = Type.Object({
  project: Type.Optional(Type.String({ maxLength: 100 })),
  run: Type.Optional(Type.String({ maxLength: 128 })),
  rule: Type.Optional(Type.String({ maxLength: 100 })),
  severity: Type.Optional(csvOf(SEVERITIES, 'Severities')),
  status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('resolved')])),
  layer: Type.Optional(Type.String({ maxLength: 200 })),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'Alerts updated at or after' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'Alerts created at or before' })),
  cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
});
export type AlertQuery = Static<typeof AlertQuery>;

export const RunAlertQuery = Type.Omit(AlertQuery, ['run']);
export type RunAlertQuery = Static<typeof RunAlertQuery>;

export const AlertPage = Type.Object({ alerts: Type.Array(Alert), nextCursor: Type.Union([Type.String(), Type.Null()]) });
export type AlertPage = Static<typeof AlertPage>;

export const AlertMarks = Type.Object(
  { acknowledged: Type.Optional(Type.Boolean()), muted: Type.Optional(Type.Boolean()) },
  { minProperties: 1, additionalProperties: false },
);
export type AlertMarks = Static<typeof AlertMarks>;
