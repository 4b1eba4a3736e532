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
  layer: Type.Optional(Type.String({ description: 'The layer the alert first fired on' })),
  layers: Type.Optional(Type.Array(Type.String(), { description: 'Every layer the alert covers, forward order' })),
  firstStep: Type.Integer(),
  lastStep: Type.Integer(),
  evidence: Type.Record(Type.String(), Type.Unknown()),
  advice: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  resolvedAt: Type.Optional(Type.String({ format: 'date-time' })),
  resolvedReason: Type.Optional(Type.String({ description: 'Why it resolved when not by its condition clearing, e.g. "ended with the run"' })),
});
export type Alert = Static<typeof Alert>;

/** A symptom a diagnosis explains: one alert of the run (rule ids are unique per run and episode). */
export const DiagnosisSymptom = Type.Object({
  rule: Type.String({ description: 'Rule id of the alert' }),
  severity: Severity,
  layers: Type.Optional(Type.Array(Type.String())),
  firstStep: Type.Integer(),
  lastStep: Type.Integer(),
  open: Type.Boolean({ description: 'The alert is still open' }),
});
export type DiagnosisSymptom = Static<typeof DiagnosisSymptom>;

/**
 * One entry of a run's ranked verdict: a root cause (ROOT_CAUSES), how sure the engine is, the
 * alerts it explains and what to do. Only warning and critical diagnoses are the verdict
 * shown to a user; info ones are hints. docs/diagnosis.md describes how they are computed.
 */
export const Diagnosis = Type.Object({
  runId: Type.Optional(Type.String()),
  cause: Type.String({ description: 'Root cause id, e.g. "lr_too_high"' }),
  title: Type.String(),
  rank: Type.Integer({ minimum: 1 }),
  severity: Severity,
  confidence: Type.Number({ minimum: 0, maximum: 1 }),
  active: Type.Boolean({ description: 'At least one of its symptoms is still open' }),
  firstStep: Type.Integer(),
  lastStep: Type.Integer(),
  symptoms: Type.Array(DiagnosisSymptom),
  explains: Type.Array(Type.String(), { description: 'Causes folded under this one (their symptoms are listed here)' }),
  evidence: Type.String({ description: 'A short summary of what was measured' }),
  advice: Type.String(),
});
export type Diagnosis = Static<typeof Diagnosis>;
