import Fastify, { type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from './config.js';
import { lazyCompilers } from './lazy-compilers.js';
import { prettyStream } from './log-format.js';
import { RequestLog } from './request-log.js';
import alertRoutes from './alerts/alerts.routes.js';
import dl4jRoutes from './dl4j/dl4j.routes.js';
import healthRoutes from './health/health.routes.js';
import ingestRoutes from './ingest/ingest.routes.js';
import type { EngineFactory } from './ingest/run-sessions.js';
import { loggerOptions } from './log-options.js';
import liveRoutes from './live/live.routes.js';
import authPlugin from './plugins/auth.js';
import configPlugin from './plugins/config.js';
import dashboardPlugin from './plugins/dashboard.js';
import dbPlugin from './plugins/db.js';
import domainPlugin from './plugins/domain.js';
import errorsPlugin from './plugins/errors.js';
import retentionPlugin from './plugins/retention.js';
import { cutOnShutdown, onSocketError } from './ingest/socket-guard.js';
import { flushThenCloseSockets } from './plugins/shutdown.js';
import swaggerPlugin from './plugins/swagger.js';
import pointRoutes from './points/points.routes.js';
import projectRoutes from './projects/projects.routes.js';
import ruleRoutes from './rules/rules.routes.js';
import runRoutes from './runs/runs.routes.js';
import tokenRoutes from './tokens/tokens.routes.js';
import webhookRoutes from './webhooks/webhooks.routes.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Compiles the route schemas no request has needed yet (lazy-compilers.ts); server.ts calls it once listening. */
    warmUp(): Promise<void>;
  }
}

export interface AppOptions {
  config: Config;
  /** Replaces the rule engine, for tests of the ingest path alone. */
  engineFactory?: EngineFactory;
  logger?: boolean;
}

/** The whole server as one Fastify instance, not yet listening. */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { config } = opts;
  const compilers = lazyCompilers();
  const app = Fastify({
    // Secrets redacted in every line (log-options.ts); readable lines on a terminal, JSON otherwise.
    logger: opts.logger === false ? false : { ...loggerOptions(config.logLevel, config.adminToken), ...(process.stdout.isTTY ? { stream: prettyStream(process.stdout) } : {}) },
    // One line per request is noise at info: they go to debug.
    logController: new RequestLog(),
    bodyLimit: 1024 * 1024,
    forceCloseConnections: true,
    schemaController: { compilersFactory: compilers },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.decorate('warmUp', compilers.warmUp);

  // Infrastructure
  await app.register(configPlugin, { config });
  await app.register(errorsPlugin);
  await app.register(dbPlugin);
  await app.register(authPlugin);
  // ws refuses a frame over maxPayload from its header, before buffering it (the socket guard
  // tells the peer why first); UTF-8 is checked by the app, which refuses bad text without a close.
  await app.register(websocket, {
    // A peer that does not read would hold the shutdown for ws's 30 s close timeout: cut it soon.
    preClose(this: FastifyInstance, done: () => void) {
      cutOnShutdown(this.websocketServer.clients);
      flushThenCloseSockets.call(this, done);
    },
    errorHandler: (err, socket, req) => onSocketError(err, socket, req.log),
    options: { maxPayload: config.limits.maxFrameBytes, skipUTF8Validation: true },
  });
  await app.register(swaggerPlugin);

  // Domain
  await app.register(domainPlugin, opts.engineFactory ? { engineFactory: opts.engineFactory } : {});
  await app.register(retentionPlugin);

  // Routes
  await app.register(healthRoutes);
  await app.register(ingestRoutes);
  await app.register(liveRoutes);
  await app.register(dl4jRoutes);
  // Every route is guarded by the auth plugin's onRequest hook (plugins/auth.ts: policyOf).
  await app.register(async (api) => {
    await api.register(projectRoutes);
    await api.register(runRoutes);
    await api.register(pointRoutes);
    await api.register(alertRoutes);
    await api.register(ruleRoutes);
    await api.register(webhookRoutes);
    await api.register(tokenRoutes);
  }, { prefix: '/api/v1' });
  await app.register(dashboardPlugin);
  return app;
}
