import Type, { type Static } from 'typebox';
import { Num } from './numbers.js';
import { RunStatus } from './run.js';
import { LayerInfo } from './protocol/ingest.js';
import { Diagnosis } from './alert.js';

export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String(),
});
export type ErrorBody = Static<typeof ErrorBody>;

export const Project = Type.Object({
  name: Type.String(),
  runCount: Type.Integer(),
  createdAt: Type.String(),
  lastSeenAt: Type.Union([Type.String(), Type.Null()]),
});
export type Project = Static<typeof Project>;

export const AlertCounts = Type.Object({
  info: Type.Integer(),
  warning: Type.Integer(),
  critical: Type.Integer(),
});

export const RunSummary = Type.Object({
  id: Type.String(),
  project: Type.String(),
  name: Type.String(),
  tags: Type.Array(Type.String()),
  status: RunStatus,
  lastStep: Type.Union([Type.Integer(), Type.Null()]),
  lastSeq: Type.Integer(),
  createdAt: Type.String(),
  lastSeenAt: Type.String(),
  endedAt: Type.Union([Type.String(), Type.Null()]),
  openAlerts: AlertCounts,
  diagnosis: Type.Union([Diagnosis, Type.Null()], { description: 'The top diagnosis of severity warning or critical, or null' }),
});
export type RunSummary = Static<typeof RunSummary>;

export const RunEvent = Type.Object({
  kind: Type.String(),
  step: Type.Union([Type.Integer(), Type.Null()]),
  detail: Type.Record(Type.String(), Type.Unknown()),
  at: Type.String(),
});

export const RunDetail = Type.Intersect([
  RunSummary,
  Type.Object({
    config: Type.Record(Type.String(), Type.Unknown()),
    framework: Type.Union([Type.String(), Type.Null()]),
    host: Type.Union([Type.String(), Type.Null()]),
    worldSize: Type.Union([Type.Integer(), Type.Null()]),
    model: Type.Union([
      Type.Object({
        layers: Type.Array(LayerInfo),
        loss: Type.Optional(Type.String()),
        optimizer: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
      }),
      Type.Null(),
    ]),
    events: Type.Array(RunEvent),
    pointCount: Type.Integer(),
  }),
]);
export type RunDetail = Static<typeof RunDetail>;

export const RunList = Type.Object({
  runs: Type.Array(RunSummary),
  total: Type.Integer(),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export type RunList = Static<typeof RunList>;

export const SeriesInfo = Type.Object({
  name: Type.String(),
  count: Type.Integer(),
  firstStep: Type.Union([Type.Integer(), Type.Null()]),
  lastStep: Type.Union([Type.Integer(), Type.Null()]),
  firstNonFiniteStep: Type.Union([Type.Integer(), Type.Null()]),
});
export type SeriesInfo = Static<typeof SeriesInfo>;

/** One bucket of a range query: an envelope of the points in [fromStep, toStep]. */
export const Bucket = Type.Object({
  fromStep: Type.Integer(),
  toStep: Type.Integer(),
  count: Type.Integer({ description: 'Points in the bucket, non-finite ones included' }),
  min: Type.Union([Type.Number(), Type.Null()], { description: 'Over finite values; null if none' }),
  max: Type.Union([Type.Number(), Type.Null()]),
  last: Num,
  nan: Type.Integer(),
  posInf: Type.Integer(),
  negInf: Type.Integer(),
});
export type Bucket = Static<typeof Bucket>;

export const XAxis = Type.Union([Type.Literal('step'), Type.Literal('time'), Type.Literal('epoch')]);
export type XAxis = Static<typeof XAxis>;

export const SeriesQuery = Type.Object({
  series: Type.String({ minLength: 1, maxLength: 20000, description: 'Comma-separated series names' }),
  from: Type.Optional(Type.Number({ description: 'Start of the range, on the x axis' })),
  to: Type.Optional(Type.Number()),
  x: Type.Optional(XAxis),
  maxPoints: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 1000 })),
});
export type SeriesQuery = Static<typeof SeriesQuery>;

/** What both forms of a query answer say of the series, and of the query. */
const SeriesHead = {
  name: Type.String(),
  firstNonFiniteStep: Type.Union([Type.Integer(), Type.Null()]),
};
const QueryHead = {
  runId: Type.String(),
  fromStep: Type.Union([Type.Integer(), Type.Null()]),
  toStep: Type.Union([Type.Integer(), Type.Null()]),
};

export const SeriesResult = Type.Object({ ...SeriesHead, buckets: Type.Array(Bucket) });
export const QueryResult = Type.Object({ ...QueryHead, series: Type.Array(SeriesResult) });
export type QueryResult = Static<typeof QueryResult>;

/** number or null as a type list: fast-json-stringify cannot serialize anyOf inside a tuple (a 500). */
const NumOrNull = Type.Unsafe<number | null>({ type: ['number', 'null'] });
const Ints = Type.Array(Type.Integer());
/**
 * `Num` as a type list: as an anyOf, fast-json-stringify would validate every item of the array
 * against each branch to pick one.
 */
const NumItem = Type.Unsafe<Num>({ type: ['number', 'string'], description: 'A number, or "NaN", "Infinity", "-Infinity"' });

/**
 * A series' buckets as parallel arrays, the i-th entry of each being the i-th bucket of
 * `SeriesResult.buckets`: the same values in about half the bytes, and parsed by a browser
 * without an object per bucket.
 */
export const SeriesColumns = Type.Object({
  ...SeriesHead,
  fromStep: Ints,
  toStep: Ints,
  count: Ints,
  min: Type.Array(NumOrNull),
  max: Type.Array(NumOrNull),
  last: Type.Array(NumItem),
  nan: Ints,
  posInf: Ints,
  negInf: Ints,
});
export type SeriesColumns = Static<typeof SeriesColumns>;
export const QueryColumns = Type.Object({ ...QueryHead, series: Type.Array(SeriesColumns) });
export type QueryColumns = Static<typeof QueryColumns>;

export const StepTimes = Type.Object({
  steps: Type.Array(Type.Tuple([Type.Integer(), NumOrNull, NumOrNull])),
});
export type StepTimes = Static<typeof StepTimes>;

export const Histogram = Type.Object({
  step: Type.Integer(),
  layer: Type.String(),
  of: Type.String(),
  edges: Type.Array(Type.Number()),
  counts: Type.Array(Type.Integer()),
});
export type Histogram = Static<typeof Histogram>;

export const Health = Type.Object({ status: Type.Literal('ok'), version: Type.String() });

/** A run's ranked verdict (docs/diagnosis.md): rank 1 first, info hints included. */
export const RunDiagnosis = Type.Object({ runId: Type.String(), diagnoses: Type.Array(Diagnosis) });
export type RunDiagnosis = Static<typeof RunDiagnosis>;
