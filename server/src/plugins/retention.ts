import fp from 'fastify-plugin';

const HOUR_MS = 3_600_000;

/** GRADWATCH_RETENTION_DAYS: prunes old runs once the server is ready, then every hour. */
export default fp(
  async (app) => {
    const days = app.config.retentionDays;
    if (days === null) return;
    let timer: NodeJS.Timeout | null = null;
    const prune = async (): Promise<void> => {
      try {
        // With several servers on one database, one of them prunes at a time.
        const n = (await app.backend.exclusive('retention', () => app.runs.pruneInactive(days))) ?? 0;
        if (n > 0) app.log.info(`retention: deleted ${n} runs inactive for more than ${days} days`);
      } catch (err) {
        app.log.error({ err }, 'retention: pruning failed; will try again in an hour');
      }
    };
    app.addHook('onReady', async () => {
      await prune();
      timer = setInterval(() => void prune(), HOUR_MS);
      timer.unref();
    });
    app.addHook('onClose', async () => {
      if (timer) clearInterval(timer);
    });
  },
  { name: 'retention', dependencies: ['domain'] },
);
