import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ErrorBody, TokenCreate, TokenCreated, TokenList } from '@gradwatch/shared';

/** Token management (admin, not limited to a project): create (secret shown once), list, revoke. */
const tokenRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/tokens',
    { schema: { body: TokenCreate, response: { 201: TokenCreated, 400: ErrorBody } } },
    async (req, reply) => {
      const { info, secret } = app.auth.tokens.create(req.body);
      return reply.code(201).send({ ...info, token: secret });
    },
  );

  app.get('/tokens', { schema: { response: { 200: TokenList } } }, async () => ({ tokens: app.auth.tokens.list() }));

  app.delete(
    '/tokens/:id',
    { schema: { params: Type.Object({ id: Type.Integer({ minimum: 1 }) }), response: { 204: Type.Null(), 404: ErrorBody } } },
    async (req, reply) => {
      if (!app.auth.tokens.revoke(req.params.id)) {
        return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no token ${req.params.id}` });
      }
      return reply.code(204).send(null);
    },
  );
};

export default tokenRoutes;
