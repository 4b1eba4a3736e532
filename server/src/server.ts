import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { StoreUnavailable } from './storage/backend.js';
import { redactUrl } from './storage/pg.js';

/** Starts the server; SIGTERM and SIGINT commit and ack what is queued, then close. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`gradwatch: configuration error: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  const app = await buildApp({ config });
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    app.log.info(`${signal}: committing what is queued and closing`);
    app.close().then(
      () => {
        app.log.info('gradwatch stopped cleanly: every acknowledged message is on disk');
        process.exit(0);
      },
      (err: unknown) => {
        app.log.error({ err }, 'error while closing');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await app.listen({ host: config.host, port: config.port });
  // Half a second in: the first request of a fresh start (often a chart) compiles its own route
  // first; the rest are ready before anyone opens the dashboard.
  setTimeout(() => void app.warmUp(), 500).unref();
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  app.log.info(`gradwatch is up: dashboard and API at http://${host}:${config.port}/ (ingest ws://${host}:${config.port}/v1/ingest), data in ${config.databaseUrl === null ? config.dbFile : `PostgreSQL at ${redactUrl(config.databaseUrl)}`}`);
}

main().catch((err: unknown) => {
  if (err instanceof StoreUnavailable) {
    console.error(`gradwatch: failed to start: ${err.message}`);
    process.exit(1);
  }
  console.error('gradwatch: failed to start:', err);
  process.exit(1);
});
