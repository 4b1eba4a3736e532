import type { FastifyPluginAsync } from 'fastify';
import type {} from '@fastify/websocket';
import { serveIngest } from '../ingest/connection.js';
import { serveLive } from '../live/connection.js';

/** The ingest socket for training jobs and the live socket for dashboards. */
const sockets: FastifyPluginAsync = async (app) => {
  let open = 0;
  app.get('/v1/ingest', { websocket: true, schema: { hide: true } }, (socket) => {
    if (open >= app.config.limits.maxConnections) {
      socket.send(JSON.stringify({ type: 'error', code: 'limit', message: `the server already has ${open} ingest connections (GRADWATCH_MAX_CONNECTIONS)` }));
      socket.close(1013, 'too many connections');
      return;
    }
    open++;
    socket.on('close', () => open--);
    serveIngest(socket, app.ingest, (_project, token) => app.auth.check(token));
  });

  app.get('/v1/live', { websocket: true, schema: { hide: true } }, (socket, req) => {
    const q = (req.query as { token?: unknown }).token;
    serveLive(socket, app.live, { required: app.auth.required, check: (token) => app.auth.check(token) }, typeof q === 'string' ? q : undefined);
  });
};

export default sockets;
