import fp from 'fastify-plugin';
import { AlertsService } from '../alerts/alerts.service.js';
import { IngestService, type EngineFactory } from '../ingest/ingest.service.js';
import { LiveHub } from '../live/hub.js';
import { createRunEngine } from '../rules/index.js';
import { RunsService } from '../runs/runs.service.js';
import { WebhooksRepo } from '../webhooks/webhooks.repo.js';
import { DEFAULT_WEBHOOK_OPTIONS, WebhooksService } from '../webhooks/webhooks.service.js';

declare module 'fastify' {
  interface FastifyInstance {
    ingest: IngestService;
    live: LiveHub;
    runsService: RunsService;
    alertsService: AlertsService;
    webhooks: WebhooksService;
    webhooksRepo: WebhooksRepo;
  }
}

/** Domain services, wired to each other: ingest feeds the live hub; the hub describes runs. */
export default fp<{ engineFactory?: EngineFactory }>(
  async (app, opts) => {
    const { runs, points, alerts } = app.repos;
    const webhooksRepo = new WebhooksRepo(app.db);
    const webhooks = new WebhooksService(webhooksRepo, { ...DEFAULT_WEBHOOK_OPTIONS, baseDelayMs: app.config.webhookRetryMs });
    const alertsService = new AlertsService(alerts, (projectId, alert) => {
      webhooks.enqueue(projectId, alert);
      // Sent once the transaction that queued it has committed.
      setImmediate(() => webhooks.kick());
    });
    // The hub and the runs service need each other only through these late-bound closures.
    let runsService: RunsService | null = null;
    const live = new LiveHub((uid) => runsService?.live(uid) ?? null, app.config.limits.liveMaxBufferedBytes);
    const factory: EngineFactory =
      opts.engineFactory ??
      ((settings) => createRunEngine({ settings, onError: (rule, err) => app.log.error({ err, rule }, 'rule failed; disabled for this run') }));
    const ingest = new IngestService(app.db, runs, points, app.pointStore, alertsService, app.config, factory, live);
    runsService = new RunsService(runs, points, app.config.staleAfterS, (uid) => ingest.isConnected(uid), () => ingest.connectedRuns());
    app.decorate('alertsService', alertsService);
    app.decorate('webhooks', webhooks);
    app.decorate('webhooksRepo', webhooksRepo);
    webhooks.start();
    app.decorate('live', live);
    app.decorate('ingest', ingest);
    app.decorate('runsService', runsService);
    app.addHook('preClose', async () => {
      // Commit and ack what is queued before sockets close.
      ingest.flush();
      live.close();
      webhooks.stop();
    });
  },
  { name: 'domain', dependencies: ['db'] },
);
