import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type {} from '@fastify/websocket';
import { serveIngest } from '../ingest/connection.js';
import { serveLive } from '../live/connection.js';

/** The ingest socket for training jobs and the live socket for dashboards. */
const sockets: FastifyPluginAsync = async (app) => {
  const limits = app.config.limits;
  /** Refuses a socket over the connection limit, with an error that names the setting. */
  const counted = (kind: string, max: number, env: string) => {
    let open = 0;
    return (socket: WebSocket): boolean => {
      if (open >= max) {
        socket.send(JSON.stringify({ type: 'error', code: 'limit', message: `the server already has ${open} ${kind} connections (${env}=${max}); try again later` }));
        socket.close(1013, 'too many connections');
        return false;
      }
      open++;
      socket.on('close', () => open--);
      return true;
    };
  };
  const ingestSlot = counted('ingest', limits.maxConnections, 'GRADWATCH_MAX_CONNECTIONS');
  const liveSlot = counted('live', limits.maxLiveConnections, 'GRADWATCH_MAX_LIVE_CONNECTIONS');

  app.get('/v1/ingest', { websocket: true, schema: { hide: true } }, (socket, req: FastifyRequest) => {
    if (!ingestSlot(socket)) return;
    // hello.token, or else an Authorization header on the upgrade request.
    const headerToken = app.auth.tokenOf(req);
    serveIngest(socket, app.ingest, (project, token) => app.auth.checkIngest(token ?? headerToken, project));
  });

  app.get('/v1/live', { websocket: true, schema: { hide: true } }, (socket, req: FastifyRequest) => {
    if (!liveSlot(socket)) return;
    serveLive(socket, app.live, { required: app.auth.required, check: (token, runs) => app.auth.checkLive(token, runs) }, app.auth.tokenOf(req));
  });
};

export default sockets;
