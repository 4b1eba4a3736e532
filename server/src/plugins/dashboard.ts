import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fp from 'fastify-plugin';
import fastifyStatic from '@fastify/static';

const DEFAULT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../dashboard/dist');

/** Serves the built dashboard at / with an SPA fallback for its client-side routes. */
export default fp(
  async (app) => {
    const root = app.config.dashboardDir ?? DEFAULT_DIR;
    if (!existsSync(resolve(root, 'index.html'))) {
      app.log.warn(`no dashboard build in ${root}: run "npm run build" to serve it`);
      return;
    }
    await app.register(fastifyStatic, { root, wildcard: false });
    app.get('/*', { schema: { hide: true } }, (req, reply) => {
      if (req.url.startsWith('/api/') || req.url.startsWith('/v1/')) {
        return reply.callNotFound();
      }
      return reply.sendFile('index.html');
    });
  },
  { name: 'dashboard', dependencies: ['config'] },
);
