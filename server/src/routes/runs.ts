import type { FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ErrorBody, RunDetail, RunList, RunStatus } from '@gradwatch/shared';
import { BadRequest } from '../runs/runs.service.js';

export const RunParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });

/** Deletes a run and all its data; a connected job is told and disconnected. */
export function deleteRun(app: FastifyInstance, uid: string): boolean {
  const run = app.repos.runs.byUid(uid);
  if (!run) return false;
  app.ingest.flush();
  app.ingest.evict(uid);
  app.db.$client.transaction(() => {
    app.repos.points.deleteRunPoints(run.id);
    app.repos.runs.deleteRun(run.id);
  })();
  return true;
}

const runs: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/runs',
    {
      schema: {
        querystring: Type.Object({
          project: Type.Optional(Type.String({ maxLength: 100 })),
          status: Type.Optional(Type.String({ pattern: '^(live|stale|completed|failed|stopped)(,(live|stale|completed|failed|stopped))*$', description: `Comma-separated: ${RunStatus.anyOf.map((s) => s.const).join(', ')}` })),
          search: Type.Optional(Type.String({ maxLength: 200, description: 'Substring of the run name, id or a tag' })),
          cursor: Type.Optional(Type.String({ maxLength: 500 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
        }),
        response: { 200: RunList, 400: ErrorBody },
      },
    },
    async (req, reply) => {
      try {
        return app.runsService.list(req.query);
      } catch (e) {
        if (e instanceof BadRequest) return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: e.message });
        throw e;
      }
    },
  );

  app.get('/runs/:id', { schema: { params: RunParams, response: { 200: RunDetail, 404: ErrorBody } } }, async (req, reply) => {
    const d = app.runsService.detail(req.params.id);
    if (!d) return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no run ${req.params.id}` });
    return d;
  });

  app.delete('/runs/:id', { schema: { params: RunParams, response: { 204: Type.Null(), 404: ErrorBody } } }, async (req, reply) => {
    if (!deleteRun(app, req.params.id)) {
      return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no run ${req.params.id}` });
    }
    return reply.code(204).send(null);
  });
};

export default runs;
