import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type, { type Static } from 'typebox';
import { Alert, ErrorBody } from '@gradwatch/shared';
import { toAlert } from '../alerts/alerts.service.js';
import type { AlertFilter } from '../alerts/alerts.repo.js';
import { RunParams } from './runs.js';

const AlertQuery = Type.Object({
  project: Type.Optional(Type.String({ maxLength: 100 })),
  run: Type.Optional(Type.String({ maxLength: 128 })),
  rule: Type.Optional(Type.String({ maxLength: 100 })),
  severity: Type.Optional(Type.String({ pattern: '^(info|warning|critical)(,(info|warning|critical))*$' })),
  status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('resolved')])),
  layer: Type.Optional(Type.String({ maxLength: 200 })),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'Alerts updated at or after' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'Alerts created at or before' })),
  cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
});
const AlertPage = Type.Object({ alerts: Type.Array(Alert), nextCursor: Type.Union([Type.String(), Type.Null()]) });

const alerts: FastifyPluginAsyncTypebox = async (app) => {
  const page = (f: Omit<AlertFilter, 'limit'> & { limit?: number }) => {
    const limit = f.limit ?? 100;
    const rows = app.repos.alerts.list({ ...f, limit });
    const last = rows[rows.length - 1];
    return {
      alerts: rows.map((r) => toAlert(r, r.runUid, r.project)),
      nextCursor: rows.length === limit && last ? String(last.id) : null,
    };
  };
  const filter = (q: Static<typeof AlertQuery>): Omit<AlertFilter, 'limit'> & { limit?: number } => ({
    ...(q.project !== undefined ? { project: q.project } : {}),
    ...(q.run !== undefined ? { runUid: q.run } : {}),
    ...(q.rule !== undefined ? { rule: q.rule } : {}),
    ...(q.severity !== undefined ? { severity: q.severity.split(',') } : {}),
    ...(q.status !== undefined ? { status: q.status } : {}),
    ...(q.layer !== undefined ? { layer: q.layer } : {}),
    ...(q.since !== undefined ? { since: new Date(q.since).toISOString() } : {}),
    ...(q.until !== undefined ? { until: new Date(q.until).toISOString() } : {}),
    ...(q.cursor !== undefined ? { beforeId: Number(q.cursor) } : {}),
    ...(q.limit !== undefined ? { limit: q.limit } : {}),
  });

  app.get('/alerts', { schema: { querystring: AlertQuery, response: { 200: AlertPage } } }, async (req) => page(filter(req.query)));

  app.get(
    '/alerts/:id',
    { schema: { params: Type.Object({ id: Type.Integer({ minimum: 1 }) }), response: { 200: Alert, 404: ErrorBody } } },
    async (req, reply) => {
      const found = app.repos.alerts.byId(req.params.id);
      if (!found) return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no alert ${req.params.id}` });
      return toAlert(found, found.runUid, found.project);
    },
  );

  app.patch(
    '/alerts/:id',
    {
      schema: {
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        body: Type.Object({ acknowledged: Type.Optional(Type.Boolean()), muted: Type.Optional(Type.Boolean()) }, { minProperties: 1, additionalProperties: false }),
        response: { 200: Alert, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, reply) => {
      if (req.body.acknowledged === undefined && req.body.muted === undefined) {
        return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: 'send acknowledged and/or muted (booleans)' });
      }
      const found = app.repos.alerts.byId(req.params.id);
      if (!found) return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no alert ${req.params.id}` });
      const row = app.alertsService.mark(found.id, found.runId, req.body, new Date().toISOString());
      return toAlert(row ?? found, found.runUid, found.project);
    },
  );

  app.get(
    '/runs/:id/alerts',
    { schema: { params: RunParams, querystring: Type.Omit(AlertQuery, ['run']), response: { 200: AlertPage, 404: ErrorBody } } },
    async (req, reply) => {
      if (!app.repos.runs.byUid(req.params.id)) {
        return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no run ${req.params.id}` });
      }
      return page({ ...filter(req.query), runUid: req.params.id });
    },
  );
};

export default alerts;
