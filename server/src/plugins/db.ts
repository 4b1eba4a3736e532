import fp from 'fastify-plugin';
import type { Backend } from '../storage/backend.js';
import { openBackend } from '../storage/open-backend.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The store (SQLite file or PostgreSQL), migrated; the domain plugin builds services on it. */
    backend: Backend;
  }
}

export default fp(
  async (app) => {
    const backend = await openBackend(app.config);
    app.decorate('backend', backend);
    app.addHook('onClose', async () => {
      await backend.close();
    });
  },
  { name: 'db', dependencies: ['config'] },
);
