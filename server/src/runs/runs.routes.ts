import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ErrorBody, RunDetail, RunDiagnosis, RunList, RunListQuery, RunParams } from '@gradwatch/shared';

const runRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/runs', { schema: { querystring: RunListQuery, response: { 200: RunList, 400: ErrorBody } } }, async (req) => app.runs.list(req.query));

  app.get('/runs/:id', { schema: { params: RunParams, response: { 200: RunDetail, 404: ErrorBody } } }, async (req) => app.runs.detail(req.params.id));

  app.get('/runs/:id/diagnosis', { schema: { params: RunParams, response: { 200: RunDiagnosis, 404: ErrorBody } } }, async (req) =>
    await app.runs.diagnosis(req.params.id),
  );

  app.delete('/runs/:id', { schema: { params: RunParams, response: { 204: Type.Null(), 404: ErrorBody } } }, async (req, reply) => {
    await app.runs.delete(req.params.id);
    return reply.code(204).send(null);
  });
};

export default runRoutes;
