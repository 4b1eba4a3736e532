import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type {} from '@fastify/websocket';
import { guardLimits } from './socket-guard.js';
import { connectionLimit } from './connection-limit.js';
import { serveIngest } from './connection.js';

/** The ingest socket for training jobs. */
const ingestRoutes: FastifyPluginAsync = async (app) => {
  const slot = connectionLimit('ingest', app.config.limits.maxConnections, 'GRADWATCH_MAX_CONNECTIONS');
  app.get('/v1/ingest', { websocket: true, schema: { hide: true } }, (socket, req: FastifyRequest) => {
    if (!slot(socket)) return;
    // hello.token, or else an Authorization header on the upgrade request.
    const headerToken = app.auth.tokenOf(req);
    serveIngest(socket, app.ingest, (project, token) => app.auth.checkIngest(token ?? headerToken, project, socket), req.log, { ...guardLimits(app.config.limits), maxHellosPerMinute: app.config.limits.maxHellosPerMinute });
  });
};

export default ingestRoutes;
