import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ErrorBody, ProjectName } from '@gradwatch/shared';

const Webhook = Type.Object({ id: Type.Integer(), project: Type.String(), url: Type.String(), createdAt: Type.String() });
const Delivery = Type.Object({
  id: Type.Integer(),
  alertId: Type.Integer(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  attempts: Type.Integer(),
  lastStatus: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  nextAttemptAt: Type.String(),
  createdAt: Type.String(),
  deliveredAt: Type.Union([Type.String(), Type.Null()]),
});
const Url = Type.String({ maxLength: 2000, pattern: '^https?://', description: 'http(s) URL that receives alert events as JSON (Slack-compatible `text`)' });

const notFound = (message: string) => ({ statusCode: 404, error: 'Not Found', message });

/** Per-project webhooks and their delivery history (failures included). */
const webhooks: FastifyPluginAsyncTypebox = async (app) => {
  const params = Type.Object({ project: ProjectName });
  const hookParams = Type.Object({ project: ProjectName, id: Type.Integer({ minimum: 1 }) });
  const findHook = (project: string, id: number) => {
    const p = app.repos.runs.projectByName(project);
    const h = p ? app.webhooksRepo.byId(id) : undefined;
    return p && h && h.projectId === p.id ? { p, h } : null;
  };

  app.get('/projects/:project/webhooks', { schema: { params, response: { 200: Type.Object({ webhooks: Type.Array(Webhook) }), 404: ErrorBody } } }, async (req, reply) => {
    const p = app.repos.runs.projectByName(req.params.project);
    if (!p) return reply.code(404).send(notFound(`no project ${req.params.project}`));
    return { webhooks: app.webhooksRepo.ofProject(p.id).map((w) => ({ id: w.id, project: p.name, url: w.url, createdAt: w.createdAt })) };
  });

  app.post(
    '/projects/:project/webhooks',
    { schema: { params, body: Type.Object({ url: Url }), response: { 201: Webhook, 400: ErrorBody } } },
    async (req, reply) => {
      try {
        new URL(req.body.url);
      } catch {
        return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: `not a valid URL: ${req.body.url}` });
      }
      const p = app.repos.runs.ensureProject(req.params.project);
      const w = app.webhooksRepo.insert(p.id, req.body.url, new Date().toISOString());
      app.webhooks.invalidate(p.id);
      return reply.code(201).send({ id: w.id, project: p.name, url: w.url, createdAt: w.createdAt });
    },
  );

  app.delete('/projects/:project/webhooks/:id', { schema: { params: hookParams, response: { 204: Type.Null(), 404: ErrorBody } } }, async (req, reply) => {
    const found = findHook(req.params.project, req.params.id);
    if (!found) return reply.code(404).send(notFound(`no webhook ${req.params.id} in project ${req.params.project}`));
    app.webhooksRepo.delete(found.h.id);
    app.webhooks.invalidate(found.p.id);
    return reply.code(204).send(null);
  });

  app.get(
    '/projects/:project/webhooks/:id/deliveries',
    {
      schema: {
        params: hookParams,
        querystring: Type.Object({
          status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')])),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
        }),
        response: { 200: Type.Object({ deliveries: Type.Array(Delivery) }), 404: ErrorBody },
      },
    },
    async (req, reply) => {
      const found = findHook(req.params.project, req.params.id);
      if (!found) return reply.code(404).send(notFound(`no webhook ${req.params.id} in project ${req.params.project}`));
      const rows = app.webhooksRepo.deliveries(found.h.id, req.query.status, req.query.limit ?? 100);
      return {
        deliveries: rows.map((d) => ({
          id: d.id, alertId: d.alertId, status: d.status as 'pending' | 'delivered' | 'failed', attempts: d.attempts,
          lastStatus: d.lastStatus, lastError: d.lastError, nextAttemptAt: new Date(d.nextAttemptAt).toISOString(),
          createdAt: d.createdAt, deliveredAt: d.deliveredAt,
        })),
      };
    },
  );
};

export default webhooks;
