import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ErrorBody, IdParams, TokenCreate, TokenCreated, TokenList } from '@gradwatch/shared';

/** Token management (admin, not limited to a project): create (secret shown once), list, revoke. */
const tokenRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/tokens', { schema: { body: TokenCreate, response: { 201: TokenCreated, 400: ErrorBody } } }, async (req, reply) =>
    reply.code(201).send(await app.tokens.create(req.body)),
  );

  app.get('/tokens', { schema: { response: { 200: TokenList } } }, async () => ({ tokens: await app.tokens.list() }));

  app.delete('/tokens/:id', { schema: { params: IdParams, response: { 204: Type.Null(), 404: ErrorBody } } }, async (req, reply) => {
    await app.tokens.revoke(req.params.id);
    return reply.code(204).send(null);
  });
};

export default tokenRoutes;
