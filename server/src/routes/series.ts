import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { encodeNum, ErrorBody, Histogram, QueryResult, SeriesInfo, SeriesQuery, StepTimes } from '@gradwatch/shared';
import { Readable } from 'node:stream';
import type { SeriesRow } from '../storage/points.repo.js';
import { RunParams } from './runs.js';

/** Buckets one query may return across all its series (maxPoints is "at most"). */
const MAX_BUCKETS = 200_000;

const notFound = (message: string) => ({ statusCode: 404, error: 'Not Found', message });
const badRequest = (message: string) => ({ statusCode: 400, error: 'Bad Request', message });

function* exportChunks(points: Iterable<[number, number]>, csv: boolean, runId: string, name: string): Generator<string> {
  const PER_CHUNK = 10_000;
  let buf: string[] = [];
  let first = true;
  yield csv ? 'step,value\n' : `{"runId":${JSON.stringify(runId)},"series":${JSON.stringify(name)},"points":[`;
  for (const [step, v] of points) {
    buf.push(csv ? `${step},${encodeNum(v)}\n` : `${first ? '' : ','}[${step},${JSON.stringify(encodeNum(v))}]`);
    first = false;
    if (buf.length >= PER_CHUNK) {
      yield buf.join('');
      buf = [];
    }
  }
  yield buf.join('') + (csv ? '' : ']}');
}

/** A run's series: listing, bucketed range queries, full-resolution export, histograms. */
const series: FastifyPluginAsyncTypebox = async (app) => {
  const findRun = (uid: string) => app.repos.runs.byUid(uid);
  const seriesOf = (runId: number) => new Map(app.repos.points.seriesOfRun(runId).map((s) => [s.name, s]));

  app.get('/runs/:id/series', { schema: { params: RunParams, response: { 200: Type.Object({ series: Type.Array(SeriesInfo) }), 404: ErrorBody } } }, async (req, reply) => {
    const run = findRun(req.params.id);
    if (!run) return reply.code(404).send(notFound(`no run ${req.params.id}`));
    return { series: app.pointStore.seriesInfo(run.id, app.repos.points.seriesOfRun(run.id)) };
  });

  app.get(
    '/runs/:id/query',
    { schema: { params: RunParams, querystring: SeriesQuery, response: { 200: QueryResult, 400: ErrorBody, 404: ErrorBody } } },
    async (req, reply) => {
      const run = findRun(req.params.id);
      if (!run) return reply.code(404).send(notFound(`no run ${req.params.id}`));
      const q = req.query;
      const names = [...new Set(q.series.split(',').map((s) => s.trim()).filter(Boolean))];
      if (names.length === 0) return reply.code(400).send(badRequest('series must name at least one series'));
      if (names.length > 500) return reply.code(400).send(badRequest('at most 500 series per query'));
      const known = seriesOf(run.id);
      const missing = names.filter((n) => !known.has(n));
      if (missing.length) return reply.code(404).send(notFound(`run ${run.uid} has no series ${missing.slice(0, 5).join(', ')}`));
      if (q.from !== undefined && q.to !== undefined && q.from > q.to) {
        return reply.code(400).send(badRequest('from must not be after to'));
      }
      let lo: number | null;
      let hi: number | null;
      const x = q.x ?? 'step';
      if (x === 'step') {
        const ext = app.repos.points.extent(run.id);
        lo = q.from !== undefined ? Math.ceil(q.from) : ext.lo;
        hi = q.to !== undefined ? Math.floor(q.to) : ext.hi;
      } else {
        const r = app.repos.points.stepRangeFor(run.id, x, q.from ?? -Number.MAX_VALUE, q.to ?? Number.MAX_VALUE);
        lo = r.lo;
        hi = r.hi;
      }
      const rows = names.map((n) => known.get(n) as SeriesRow);
      if (lo === null || hi === null || lo > hi) {
        return { runId: run.uid, fromStep: null, toStep: null, series: rows.map((s) => ({ name: s.name, firstNonFiniteStep: s.first_nonfinite_step, buckets: [] })) };
      }
      // The answer's size is bounded whatever is asked: at most MAX_BUCKETS buckets in all.
      const perSeries = Math.max(1, Math.min(q.maxPoints ?? 1000, Math.floor(MAX_BUCKETS / rows.length)));
      const result = app.pointStore.query(run.id, rows, lo, hi, perSeries);
      return { runId: run.uid, fromStep: lo, toStep: hi, series: result };
    },
  );

  app.get(
    '/runs/:id/series/export',
    {
      schema: {
        params: RunParams,
        querystring: Type.Object({
          name: Type.String({ minLength: 1, maxLength: 600 }),
          format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')], { default: 'json' })),
        }),
        response: { 200: Type.Unknown({ description: 'CSV (step,value) or JSON {runId, series, points:[[step, value]]}' }), 404: ErrorBody },
      },
    },
    async (req, reply) => {
      const run = findRun(req.params.id);
      if (!run) return reply.code(404).send(notFound(`no run ${req.params.id}`));
      const s = seriesOf(run.id).get(req.query.name);
      if (!s) return reply.code(404).send(notFound(`run ${run.uid} has no series ${req.query.name}`));
      const file = `${run.uid}-${s.name.replace(/[^A-Za-z0-9._-]+/g, '_')}`;
      const csv = req.query.format === 'csv';
      // Streamed in pieces: a series of millions of points never sits in memory as one string.
      const body = Readable.from(exportChunks(app.pointStore.points(run.id, s), csv, run.uid, s.name));
      return reply
        .header('content-type', csv ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8')
        .header('content-disposition', `attachment; filename="${file}.${csv ? 'csv' : 'json'}"`)
        .send(body);
    },
  );

  app.get(
    '/runs/:id/steps',
    {
      schema: {
        params: RunParams,
        querystring: Type.Object({
          from: Type.Optional(Type.Integer({ minimum: 0 })),
          to: Type.Optional(Type.Integer({ minimum: 0 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, default: 10000 })),
        }),
        response: { 200: StepTimes, 404: ErrorBody },
      },
    },
    async (req, reply) => {
      const run = findRun(req.params.id);
      if (!run) return reply.code(404).send(notFound(`no run ${req.params.id}`));
      const rows = app.repos.points.stepTimes(run.id, req.query.from ?? 0, req.query.to ?? Number.MAX_SAFE_INTEGER, req.query.limit ?? 10000);
      return { steps: rows.map((r) => [r.step, r.time, r.epoch] as [number, number | null, number | null]) };
    },
  );

  app.get(
    '/runs/:id/histograms',
    {
      schema: {
        params: RunParams,
        querystring: Type.Object({
          layer: Type.Optional(Type.String({ maxLength: 200 })),
          of: Type.Optional(Type.Union([Type.Literal('param'), Type.Literal('grad'), Type.Literal('update'), Type.Literal('act')])),
          from: Type.Optional(Type.Integer({ minimum: 0 })),
          to: Type.Optional(Type.Integer({ minimum: 0 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
        }),
        response: { 200: Type.Object({ histograms: Type.Array(Histogram) }), 404: ErrorBody },
      },
    },
    async (req, reply) => {
      const run = findRun(req.params.id);
      if (!run) return reply.code(404).send(notFound(`no run ${req.params.id}`));
      const q = req.query;
      const rows = app.repos.points.histograms(run.id, q.layer ?? null, q.of ?? null, q.from ?? 0, q.to ?? Number.MAX_SAFE_INTEGER, q.limit ?? 100);
      return {
        histograms: rows.map((r) => ({ step: r.step, layer: r.layer, of: r.of, edges: JSON.parse(r.edges) as number[], counts: JSON.parse(r.counts) as number[] })),
      };
    },
  );
};

export default series;
