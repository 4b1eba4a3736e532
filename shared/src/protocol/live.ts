import Type, { type Static } from 'typebox';
import { Num } from '../numbers.js';
import { RunStatus } from '../run.js';
import { Alert, Diagnosis } from '../alert.js';

const RunIds = Type.Array(Type.String({ maxLength: 128 }), { maxItems: 200 });

export const LiveAuth = Type.Object({ type: Type.Literal('auth'), token: Type.String({ maxLength: 500 }) });
export const LiveSubscribe = Type.Object({
  type: Type.Literal('subscribe'),
  runs: RunIds,
  /** Series names to receive; absent means every series of those runs. */
  series: Type.Optional(Type.Array(Type.String({ maxLength: 600 }), { maxItems: 2000 })),
});
export const LiveUnsubscribe = Type.Object({ type: Type.Literal('unsubscribe'), runs: RunIds });
export type LiveAuth = Static<typeof LiveAuth>;
export type LiveSubscribe = Static<typeof LiveSubscribe>;
export type LiveUnsubscribe = Static<typeof LiveUnsubscribe>;
export type LiveClientMsg = LiveAuth | LiveSubscribe | LiveUnsubscribe;

/** [step, value] pairs, in step order. */
export const LivePoint = Type.Tuple([Type.Integer(), Num]);
export const LivePoints = Type.Object({
  type: Type.Literal('points'),
  runId: Type.String(),
  series: Type.Record(Type.String(), Type.Array(LivePoint)),
});
export type LivePoints = Static<typeof LivePoints>;

export const LiveRun = Type.Object({
  type: Type.Literal('run'),
  runId: Type.String(),
  status: RunStatus,
  lastStep: Type.Union([Type.Integer(), Type.Null()]),
  lastSeenAt: Type.String(),
});
export type LiveRun = Static<typeof LiveRun>;

export const LiveAlert = Type.Object({ type: Type.Literal('alert'), alert: Alert });
export type LiveAlert = Static<typeof LiveAlert>;

export const LiveReady = Type.Object({ type: Type.Literal('ready') });
/** The run's verdict changed. */
export const LiveDiagnosis = Type.Object({ type: Type.Literal('diagnosis'), runId: Type.String(), diagnoses: Type.Array(Diagnosis) });
export type LiveDiagnosis = Static<typeof LiveDiagnosis>;

export type LiveServerMsg =
  | LivePoints
  | LiveRun
  | LiveAlert
  | LiveDiagnosis
  | Static<typeof LiveReady>
  | { type: 'error'; code: string; message: string; runId?: string };
