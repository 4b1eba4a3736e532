import fp from 'fastify-plugin';
import { AlertLedger } from '../alerts/alert-ledger.js';
import { AlertsRepo } from '../alerts/alerts.repo.js';
import { AlertsService } from '../alerts/alerts.service.js';
import { IngestService } from '../ingest/ingest.service.js';
import { RunSessions, type EngineFactory } from '../ingest/run-sessions.js';
import { LiveHub } from '../live/hub.js';
import { SqlitePointStore } from '../points/point-store.js';
import { PointsRepo } from '../points/points.repo.js';
import { PointsService } from '../points/points.service.js';
import { ProjectsRepo } from '../projects/projects.repo.js';
import { ProjectsService } from '../projects/projects.service.js';
import { createRunEngine } from '../rules/index.js';
import { RulesService } from '../rules/rules.service.js';
import { RunRecords } from '../runs/run-records.js';
import { RunsRepo } from '../runs/runs.repo.js';
import { RunsService } from '../runs/runs.service.js';
import { TokensRepo } from '../tokens/tokens.repo.js';
import { TokensService } from '../tokens/tokens.service.js';
import { WebhooksRepo } from '../webhooks/webhooks.repo.js';
import { DEFAULT_WEBHOOK_OPTIONS, WebhooksService } from '../webhooks/webhooks.service.js';

declare module 'fastify' {
  interface FastifyInstance {
    projects: ProjectsService;
    runs: RunsService;
    points: PointsService;
    alerts: AlertsService;
    rules: RulesService;
    webhooks: WebhooksService;
    tokens: TokensService;
    ingest: IngestService;
    live: LiveHub;
  }
}

export interface DomainOptions {
  /** Replaces the rule engine, for tests of the ingest path alone. */
  engineFactory?: EngineFactory;
}

/**
 * The domain services, each on its feature's repository, wired to each other: ingest writes
 * through the point store and the alert ledger and feeds the live hub; deleting a run or
 * changing rule settings reaches ingest and live through listeners, not imports.
 */
export default fp<DomainOptions>(
  async (app, opts) => {
    const { db, transact, config } = app;
    const projects = new ProjectsService(new ProjectsRepo(db));
    const webhooks = new WebhooksService(new WebhooksRepo(db), projects, { ...DEFAULT_WEBHOOK_OPTIONS, baseDelayMs: config.webhookRetryMs, allowHosts: config.webhookAllowHosts });
    const ledger = new AlertLedger(new AlertsRepo(db), (projectId, alert) => {
      webhooks.enqueue(projectId, alert);
      // Sent once the transaction that queued it has committed.
      setImmediate(() => webhooks.kick());
    });
    const alerts = new AlertsService(new AlertsRepo(db), ledger);
    const store = new SqlitePointStore(new PointsRepo(db));
    const runsRepo = new RunsRepo(db);
    const records = new RunRecords(runsRepo, projects);
    const engineFactory: EngineFactory =
      opts.engineFactory ?? ((settings) => createRunEngine({ settings, onError: (rule, err) => app.log.error({ err, rule }, 'rule failed; disabled for this run') }));
    const sessions = new RunSessions(records, projects, engineFactory);
    const runs = new RunsService({ repo: runsRepo, points: store, alerts, projects, transact, staleAfterS: config.staleAfterS, connected: () => sessions.connected() });
    const live = new LiveHub((uid) => runs.live(uid), config.limits.liveMaxBufferedBytes);
    const ingest = new IngestService({
      transact,
      inTransaction: () => db.$client.inTransaction,
      records,
      points: store,
      ledger,
      sessions,
      listener: live,
      // Diagnosis events go to every webhook; symptom alerts to those that take them (`alerts`).
      onVerdict: (ref, top) => {
        webhooks.enqueueDiagnosis(ref.projectId, ref.uid, ref.project, top);
        setImmediate(() => webhooks.kick());
      },
      limits: config.limits,
      log: app.log,
    });
    const rules = new RulesService(projects);

    runs.onDeleting((run) => ingest.evict(run.uid));
    runs.onDeleting((run) => live.runDeleted(run.uid));
    rules.onChange((projectId, settings) => sessions.applySettings(projectId, settings));

    app.decorate('projects', projects);
    app.decorate('runs', runs);
    app.decorate('points', new PointsService(store, runs));
    app.decorate('alerts', alerts);
    app.decorate('rules', rules);
    app.decorate('webhooks', webhooks);
    app.decorate('tokens', new TokensService(new TokensRepo(db)));
    app.decorate('ingest', ingest);
    app.decorate('live', live);

    webhooks.start();
    app.addHook('preClose', async () => {
      // Commit and ack what is queued before sockets close.
      ingest.flush();
      live.close();
      webhooks.stop();
    });
  },
  { name: 'domain', dependencies: ['db'] },
);
