import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Health } from '@gradwatch/shared';

const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', { schema: { response: { 200: Health } } }, async () => {
    await app.backend.ping();
    return { status: 'ok' as const, version: '0.1.0' };
  });
};

export default health;
