import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type {} from '@fastify/websocket';
import { guardLimits } from '../ingest/socket-guard.js';
import { connectionLimit } from '../ingest/connection-limit.js';
import { serveLive } from './connection.js';

/** The live socket for dashboards. */
const liveRoutes: FastifyPluginAsync = async (app) => {
  const slot = connectionLimit('live', app.config.limits.maxLiveConnections, 'GRADWATCH_MAX_LIVE_CONNECTIONS');
  app.get('/v1/live', { websocket: true, schema: { hide: true } }, (socket, req: FastifyRequest) => {
    if (!slot(socket)) return;
    serveLive(socket, app.live, { required: app.auth.required, check: (token, runs) => app.auth.checkLive(token, runs, socket) }, app.auth.tokenOf(req), { ...guardLimits(app.config.limits), maxBufferedBytes: app.config.limits.liveMaxBufferedBytes, maxMessagesPerSecond: app.config.limits.maxMessagesPerSecond });
  });
};

export default liveRoutes;
