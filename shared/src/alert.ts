import Type, { type Static } from 'typebox';

export const Severity = Type.Union([
  Type.Literal('info'),
  Type.Literal('warning'),
  Type.Literal('critical'),
]);
export type Severity = Static<typeof Severity>;

export const AlertStatus = Type.Union([Type.Literal('open'), Type.Literal('resolved')]);
export type AlertStatus = Static<typeof AlertStatus>;

/** One alert: the same shape on the ingest socket, the live socket and REST. */
export const Alert = Type.Object({
  id: Type.Integer(),
  runId: Type.String(),
  project: Type.String(),
  rule: Type.String({ description: 'Rule id, e.g. "nan.detected"' }),
  section: Type.String({ description: 'Troubleshooting-guide section the rule comes from' }),
  severity: Severity,
  status: AlertStatus,
  acknowledged: Type.Boolean(),
  muted: Type.Boolean(),
  layer: Type.Optional(Type.String()),
  firstStep: Type.Integer(),
  lastStep: Type.Integer(),
  evidence: Type.Record(Type.String(), Type.Unknown()),
  advice: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  resolvedAt: Type.Optional(Type.String({ format: 'date-time' })),
});
export type Alert = Static<typeof Alert>;
