import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import fp from 'fastify-plugin';
import fastifyStatic from '@fastify/static';
import { DASHBOARD_DIST } from '../paths.js';


/** Serves the built dashboard at / with an SPA fallback for its client-side routes. */
export default fp(
  async (app) => {
    const root = app.config.dashboardDir ?? DASHBOARD_DIST;
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
