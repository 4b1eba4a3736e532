import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  ErrorBody, ExportBody, ExportQuery, HistogramList, HistogramQuery, QueryColumns, QueryResult, RunParams, SeriesList, SeriesQuery, StepsQuery, StepTimes,
} from '@gradwatch/shared';

/** A run's series: listing, bucketed range queries, full-resolution export, step times, histograms. */
const pointRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/runs/:id/series', { schema: { params: RunParams, response: { 200: SeriesList, 404: ErrorBody } } }, async (req) => app.points.list(req.params.id));

  app.get(
    '/runs/:id/query',
    { schema: { params: RunParams, querystring: SeriesQuery, response: { 200: QueryResult, 400: ErrorBody, 404: ErrorBody } } },
    async (req) => app.points.query(req.params.id, req.query),
  );

  app.get(
    '/runs/:id/query/columns',
    { schema: { params: RunParams, querystring: SeriesQuery, response: { 200: QueryColumns, 400: ErrorBody, 404: ErrorBody } } },
    async (req) => app.points.queryColumns(req.params.id, req.query),
  );

  app.get(
    '/runs/:id/series/export',
    { schema: { params: RunParams, querystring: ExportQuery, response: { 200: ExportBody, 404: ErrorBody } } },
    async (req, reply) => {
      const out = await app.points.export(req.params.id, req.query.name, req.query.format);
      return reply.header('content-type', out.contentType).header('content-disposition', `attachment; filename="${out.filename}"`).send(out.body);
    },
  );

  app.get(
    '/runs/:id/steps',
    { schema: { params: RunParams, querystring: StepsQuery, response: { 200: StepTimes, 404: ErrorBody } } },
    async (req) => app.points.steps(req.params.id, req.query),
  );

  app.get(
    '/runs/:id/histograms',
    { schema: { params: RunParams, querystring: HistogramQuery, response: { 200: HistogramList, 404: ErrorBody } } },
    async (req) => app.points.histograms(req.params.id, req.query),
  );
};

export default pointRoutes;
