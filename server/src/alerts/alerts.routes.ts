import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Alert, AlertMarks, AlertPage, AlertQuery, ErrorBody, IdParams, RunAlertQuery, RunParams } from '@gradwatch/shared';

/** Alert queries across runs and per run; acknowledge and mute. */
const alertRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/alerts', { schema: { querystring: AlertQuery, response: { 200: AlertPage, 400: ErrorBody } } }, async (req) => app.alerts.page(req.query));

  app.get('/alerts/:id', { schema: { params: IdParams, response: { 200: Alert, 404: ErrorBody } } }, async (req) => app.alerts.get(req.params.id));

  app.patch(
    '/alerts/:id',
    { schema: { params: IdParams, body: AlertMarks, response: { 200: Alert, 400: ErrorBody, 404: ErrorBody } } },
    async (req) => app.alerts.mark(req.params.id, req.body),
  );

  app.get(
    '/runs/:id/alerts',
    { schema: { params: RunParams, querystring: RunAlertQuery, response: { 200: AlertPage, 400: ErrorBody, 404: ErrorBody } } },
    async (req) => {
      await app.runs.require(req.params.id);
      return app.alerts.page({ ...req.query, run: req.params.id });
    },
  );
};

export default alertRoutes;
