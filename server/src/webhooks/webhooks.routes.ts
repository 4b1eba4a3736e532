import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { DeliveryList, DeliveryQuery, ErrorBody, ProjectIdParams, ProjectParams, WebhookCreate, WebhookCreated, WebhookList } from '@gradwatch/shared';

/** Per-project webhooks and their delivery history (failures included). */
const webhookRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/projects/:project/webhooks', { schema: { params: ProjectParams, response: { 200: WebhookList, 404: ErrorBody } } }, async (req) =>
    await app.webhooks.list(req.params.project),
  );

  app.post(
    '/projects/:project/webhooks',
    { schema: { params: ProjectParams, body: WebhookCreate, response: { 201: WebhookCreated, 400: ErrorBody } } },
    async (req, reply) => reply.code(201).send(await app.webhooks.create(req.params.project, req.body.url, req.body.alerts)),
  );

  app.delete('/projects/:project/webhooks/:id', { schema: { params: ProjectIdParams, response: { 204: Type.Null(), 404: ErrorBody } } }, async (req, reply) => {
    await app.webhooks.delete(req.params.project, req.params.id);
    return reply.code(204).send(null);
  });

  app.get(
    '/projects/:project/webhooks/:id/deliveries',
    { schema: { params: ProjectIdParams, querystring: DeliveryQuery, response: { 200: DeliveryList, 404: ErrorBody } } },
    async (req) => app.webhooks.deliveries(req.params.project, req.params.id, req.query),
  );
};

export default webhookRoutes;
