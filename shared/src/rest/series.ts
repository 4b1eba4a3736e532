import Type, { type Static } from 'typebox';
import { Histogram, SeriesInfo } from '../rest.js';

export const SeriesList = Type.Object({ series: Type.Array(SeriesInfo) });
export type SeriesList = Static<typeof SeriesList>;

export const ExportQuery = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 600 }),
  format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')], { default: 'json' })),
});
export type ExportQuery = Static<typeof ExportQuery>;
export const ExportBody = Type.Unknown({ description: 'CSV (step,value) or JSON {runId, series, points:[[step, value]]}' });

export const StepsQuery = Type.Object({
  from: Type.Optional(Type.Integer({ minimum: 0 })),
  to: Type.Optional(Type.Integer({ minimum: 0 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, default: 10000 })),
});
export type StepsQuery = Static<typeof StepsQuery>;

export const HistogramQuery = Type.Object({
  layer: Type.Optional(Type.String({ maxLength: 200 })),
  of: Type.Optional(Type.Union([Type.Literal('param'), Type.Literal('grad'), Type.Literal('update'), Type.Literal('act')])),
  from: Type.Optional(Type.Integer({ minimum: 0 })),
  to: Type.Optional(Type.Integer({ minimum: 0 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
});
export type HistogramQuery = Static<typeof HistogramQuery>;

export const HistogramList = Type.Object({ histograms: Type.Array(Histogram) });
export type HistogramList = Static<typeof HistogramList>;
