import Type, { type Static, type TSchema } from 'typebox';
import { MeasuredNum as Num } from '../numbers.js';
import { EndStatus, ProjectName, RunId } from '../run.js';
import { Alert, Diagnosis } from '../alert.js';
import type { ErrorCode } from '../wire/errors.js';

export const PROTOCOL_VERSION = 1;

const Name = Type.String({ minLength: 1, maxLength: 200 });
/**
 * A record keyed by names of 1..maxLength characters. TypeBox drops the constraints of a Record's
 * key schema (keys match "^.*$"), so the key length is checked with propertyNames.
 */
const NamedRecord = <T extends Parameters<typeof Type.Record>[1]>(value: T, maxLength = 200) =>
  Type.Record(Type.String(), value, { propertyNames: { minLength: 1, maxLength } });
const Seq = Type.Integer({ minimum: 1 });
const Step = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

/**
 * Statistics of one tensor, computed over its finite elements; nonFinite counts the rest.
 * min and max may be left out by a source that only has the moments (DL4J without histograms).
 */
export const Stats = Type.Object({
  mean: Num,
  std: Num,
  meanAbs: Num,
  min: Type.Optional(Num),
  max: Type.Optional(Num),
  norm: Type.Optional(Num),
  nonFinite: Type.Optional(Num),
  fracZero: Type.Optional(Num),
  fracSaturated: Type.Optional(Num),
  fracDeadUnits: Type.Optional(Num),
});
export type Stats = Static<typeof Stats>;

export const LayerStats = Type.Object({
  param: Type.Optional(Stats),
  grad: Type.Optional(Stats),
  update: Type.Optional(Stats),
  act: Type.Optional(Stats),
  bias: Type.Optional(Stats),
});
export type LayerStats = Static<typeof LayerStats>;

export const InputStats = Type.Object({
  mean: Num,
  std: Num,
  min: Num,
  max: Num,
  nonFinite: Type.Optional(Num),
});
export type InputStats = Static<typeof InputStats>;

/**
 * A config value: JSON nested at most 8 deep. Unbounded nesting once overflowed the server's
 * stack while it stored a hello (a crash); the static type stays `unknown`.
 */
const ConfigLeaf = Type.Union([Type.Number(), Type.String({ maxLength: 10_000 }), Type.Boolean(), Type.Null()]);
let configValue: TSchema = ConfigLeaf;
for (let i = 0; i < 8; i++) configValue = Type.Union([ConfigLeaf, Type.Array(configValue, { maxItems: 10_000 }), Type.Record(Type.String({ maxLength: 200 }), configValue)]);
export const ConfigValue = Type.Unsafe<unknown>(configValue);

export const RunInfo = Type.Object({
  id: RunId,
  project: ProjectName,
  name: Name,
  tags: Type.Optional(Type.Array(Type.String({ maxLength: 100 }), { maxItems: 50 })),
  config: Type.Optional(NamedRecord(ConfigValue)),
  framework: Type.Optional(Type.String({ maxLength: 100 })),
  host: Type.Optional(Type.String({ maxLength: 200 })),
  rank: Type.Optional(Type.Integer({ minimum: 0 })),
  worldSize: Type.Optional(Type.Integer({ minimum: 1 })),
});
export type RunInfo = Static<typeof RunInfo>;

/** Encodings of sequenced messages besides JSON (docs/protocol.md, "Binary frames"). */
export const ENCODINGS = ['msgpack'] as const;
export type Encoding = (typeof ENCODINGS)[number];

export const Hello = Type.Object({
  type: Type.Literal('hello'),
  protocol: Type.Integer(),
  run: RunInfo,
  rewindTo: Type.Optional(Step),
  token: Type.Optional(Type.String({ maxLength: 500 })),
  /** Binary encodings the client can send, in its order of preference; unknown ones are ignored. */
  encodings: Type.Optional(Type.Array(Type.String({ maxLength: 50 }), { maxItems: 20 })),
});
export type Hello = Static<typeof Hello>;

export const LayerInfo = Type.Object({
  name: Name,
  kind: Type.String({ maxLength: 100 }),
  activation: Type.Optional(Type.String({ maxLength: 100 })),
  init: Type.Optional(Type.String({ maxLength: 100 })),
  params: Type.Integer({ minimum: 0 }),
  fanIn: Type.Optional(Type.Integer({ minimum: 0 })),
  fanOut: Type.Optional(Type.Integer({ minimum: 0 })),
  trainable: Type.Optional(Type.Boolean()),
});
export type LayerInfo = Static<typeof LayerInfo>;

export const OptimizerInfo = Type.Object(
  {
    type: Type.String({ maxLength: 100 }),
    lr: Type.Optional(Num),
    momentum: Type.Optional(Num),
    weightDecay: Type.Optional(Num),
  },
  {
    // Other hyper-parameters (betas, eps, nesterov, ...): flat values only. Arbitrary nesting
    // here once overflowed the stack while the server decoded it, failing a whole group commit.
    additionalProperties: Type.Union([Num, Type.String({ maxLength: 200 }), Type.Boolean(), Type.Null(), Type.Array(Num, { maxItems: 100 })]),
  },
);

export const ModelMsg = Type.Object({
  type: Type.Literal('model'),
  seq: Seq,
  layers: Type.Array(LayerInfo),
  loss: Type.Optional(Type.String({ maxLength: 100 })),
  optimizer: Type.Optional(OptimizerInfo),
});
export type ModelMsg = Static<typeof ModelMsg>;

export const StepItem = Type.Object({
  step: Step,
  epoch: Type.Optional(Type.Number({ minimum: 0 })),
  time: Type.Optional(Type.Number({ description: 'Unix time in seconds' })),
  examples: Type.Optional(Type.Integer({ minimum: 0 })),
  scalars: NamedRecord(Num),
  layers: Type.Optional(NamedRecord(LayerStats)),
  inputs: Type.Optional(InputStats),
});
export type StepItem = Static<typeof StepItem>;

export const StepsMsg = Type.Object({
  type: Type.Literal('steps'),
  seq: Seq,
  items: Type.Array(StepItem, { minItems: 1 }),
});
export type StepsMsg = Static<typeof StepsMsg>;

export const EvalMsg = Type.Object({
  type: Type.Literal('eval'),
  seq: Seq,
  step: Step,
  epoch: Type.Optional(Type.Number({ minimum: 0 })),
  split: Type.Union([Type.Literal('val'), Type.Literal('test')]),
  metrics: NamedRecord(Num),
  inputs: Type.Optional(InputStats),
});
export type EvalMsg = Static<typeof EvalMsg>;

export const HistOf = Type.Union([
  Type.Literal('param'),
  Type.Literal('grad'),
  Type.Literal('update'),
  Type.Literal('act'),
]);

const histFields = {
  step: Step,
  layer: Name,
  of: HistOf,
  edges: Type.Array(Type.Number(), { minItems: 2, maxItems: 1001 }),
  counts: Type.Array(Type.Integer({ minimum: 0 }), { minItems: 1, maxItems: 1000 }),
};

export const HistMsg = Type.Object({ type: Type.Literal('hist'), seq: Seq, ...histFields });
export type HistMsg = Static<typeof HistMsg>;

/** One histogram of a `hists` message: a `hist` without type and seq. */
export const HistItem = Type.Object(histFields);
export type HistItem = Static<typeof HistItem>;

/**
 * Many histograms under one seq and one ack (offered as welcome.features "hists"): an import
 * sends hundreds of thousands, and one message each cost more than storing them.
 */
export const HistsMsg = Type.Object({
  type: Type.Literal('hists'),
  seq: Seq,
  items: Type.Array(HistItem, { minItems: 1 }),
});
export type HistsMsg = Static<typeof HistsMsg>;

export const EndMsg = Type.Object({ type: Type.Literal('end'), seq: Seq, status: EndStatus });
export type EndMsg = Static<typeof EndMsg>;

/** Every sequenced message (all but hello). */
export type SeqMsg = ModelMsg | StepsMsg | EvalMsg | HistMsg | HistsMsg | EndMsg;
export type ClientMsg = Hello | SeqMsg;
export const SEQ_MSG_TYPES = ['model', 'steps', 'eval', 'hist', 'hists', 'end'] as const;

/** Message kinds beyond the first version of the protocol, listed in welcome.features when taken. */
export const FEATURES = ['hists'] as const;

export const Limits = Type.Object({
  maxFrameBytes: Type.Integer(),
  maxLayers: Type.Integer(),
  maxSeriesPerRun: Type.Integer(),
  maxItemsPerMessage: Type.Integer(),
  maxMessagesPerSecond: Type.Integer(),
  maxStringLength: Type.Integer(),
});
export type Limits = Static<typeof Limits>;

export const Welcome = Type.Object({
  type: Type.Literal('welcome'),
  protocol: Type.Integer(),
  runId: Type.String(),
  lastSeq: Type.Integer({ minimum: 0 }),
  lastStep: Type.Optional(Type.Integer()),
  limits: Limits,
  /** Present when the server takes binary frames in this encoding on this connection. */
  encoding: Type.Optional(Type.Literal('msgpack')),
  /** Optional message kinds this server takes (FEATURES); a client sends one only when listed. */
  features: Type.Optional(Type.Array(Type.String())),
});
export type Welcome = Static<typeof Welcome>;

export const Ack = Type.Object({ type: Type.Literal('ack'), seq: Type.Integer() });
export type Ack = Static<typeof Ack>;

export const AlertMsg = Type.Object({ type: Type.Literal('alert'), alert: Alert });
export type AlertMsg = Static<typeof AlertMsg>;

export const CommandMsg = Type.Object({
  type: Type.Literal('command'),
  action: Type.Literal('stop'),
  reason: Type.String(),
});
export type CommandMsg = Static<typeof CommandMsg>;


export const ErrorMsg = Type.Object({
  type: Type.Literal('error'),
  code: Type.String(),
  message: Type.String(),
  seq: Type.Optional(Type.Integer()),
  expected: Type.Optional(Type.Integer()),
});
export interface ErrorMsg {
  type: 'error';
  code: ErrorCode;
  message: string;
  seq?: number;
  expected?: number;
}

/** The run's verdict changed (docs/diagnosis.md): sent to the training job. */
export const DiagnosisMsg = Type.Object({ type: Type.Literal('diagnosis'), diagnoses: Type.Array(Diagnosis) });
export type DiagnosisMsg = Static<typeof DiagnosisMsg>;

export type ServerMsg = Welcome | Ack | AlertMsg | CommandMsg | ErrorMsg | DiagnosisMsg;
export * from './strings.js';
