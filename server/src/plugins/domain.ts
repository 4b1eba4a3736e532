import fp from 'fastify-plugin';
import { alertHistory } from '../alerts/alert-history.js';
import { AlertLedger } from '../alerts/alert-ledger.js';
import { AlertsService } from '../alerts/alerts.service.js';
import { IngestService } from '../ingest/ingest.service.js';
import { RunSessions, type EngineFactory } from '../ingest/run-sessions.js';
import { LiveHub } from '../live/hub.js';
import { LiveRelay } from '../live/relay.js';
import { PointsService } from '../points/points.service.js';
import { ProjectsService } from '../projects/projects.service.js';
import { createRunEngine } from '../rules/index.js';
import { RulesService } from '../rules/rules.service.js';
import { RunRecords } from '../runs/run-records.js';
import { RunsService } from '../runs/runs.service.js';
import { TokensService } from '../tokens/tokens.service.js';
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
    const { backend, config } = app;
    const { repos, transact } = backend;
    const projects = new ProjectsService(repos.projects);
    const webhooks = new WebhooksService(
      repos.webhooks,
      projects,
      { ...DEFAULT_WEBHOOK_OPTIONS, baseDelayMs: config.webhookRetryMs, allowHosts: config.webhookAllowHosts, cacheHooks: !backend.shared },
      (err) => app.log.warn({ err }, 'webhooks: the outbox could not be read; trying again'),
    );
    const ledger = new AlertLedger(repos.alerts, async (projectId, alert) => {
      await webhooks.enqueue(projectId, alert);
      // Sent once the transaction that queued it has committed.
      setImmediate(() => webhooks.kick());
    });
    const alerts = new AlertsService(repos.alerts, ledger);
    const store = repos.points;
    const records = new RunRecords(repos.runs, projects);
    const engineFactory: EngineFactory =
      opts.engineFactory ?? ((settings) => createRunEngine({ settings, onError: (rule, err) => app.log.error({ err, rule }, 'rule failed; disabled for this run') }));
    const sessions = new RunSessions(records, projects, engineFactory, { serverId: config.serverId, shared: backend.shared, history: (uid) => alertHistory(repos.alerts, uid) });
    const runs = new RunsService({ repo: repos.runs, points: store, alerts, projects, transact, staleAfterS: config.staleAfterS, connected: () => sessions.connected() });
    const live = new LiveHub((uid) => runs.live(uid), config.limits.liveMaxBufferedBytes);
    const points = new PointsService(store, runs);
    // Several servers on one database: what is committed here reaches subscribers of the others.
    const relay = backend.notices
      ? new LiveRelay(live, backend.notices, config.serverId, {
          steps: (uid, lo, hi) => points.liveSteps(uid, lo, hi),
          alert: (id) => alerts.get(id).catch(() => null),
          diagnoses: async (uid) => (await runs.diagnosis(uid)).diagnoses,
        }, app.log)
      : null;
    const listener = relay ?? live;
    const ingest = new IngestService({
      store: backend,
      records,
      points: store,
      ledger,
      sessions,
      listener,
      // Diagnosis events go to every webhook; symptom alerts to those that take them (`alerts`).
      onVerdict: async (ref, top) => {
        await webhooks.enqueueDiagnosis(ref.projectId, ref.uid, ref.project, top);
        setImmediate(() => webhooks.kick());
      },
      limits: config.limits,
      idleReleaseMs: config.idleReleaseS * 1000,
      log: app.log,
    });
    const rules = new RulesService(projects);

    runs.onDeleting((run) => ingest.evict(run.uid));
    runs.onDeleting((run) => listener.runDeleted(run.uid));
    rules.onChange((projectId, settings) => sessions.applySettings(projectId, settings));

    app.decorate('projects', projects);
    app.decorate('runs', runs);
    app.decorate('points', points);
    app.decorate('alerts', alerts);
    app.decorate('rules', rules);
    app.decorate('webhooks', webhooks);
    app.decorate('tokens', new TokensService(repos.tokens));
    app.decorate('ingest', ingest);
    app.decorate('live', live);

    await relay?.start();
    webhooks.start();
    app.addHook('preClose', async () => {
      // Commit and ack what is queued before sockets close.
      await ingest.flush();
      ingest.close();
      await relay?.stop();
      live.close();
      webhooks.stop();
    });
  },
  { name: 'domain', dependencies: ['db'] },
);
