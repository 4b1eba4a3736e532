import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import type { Alert, Delivery, DeliveryList, DeliveryQuery, Diagnosis, Webhook, WebhookCreated, WebhookList } from '@gradwatch/shared';
import { badRequest, notFound } from '../http-errors.js';
import type { ProjectsService } from '../projects/projects.service.js';
import { alertPayload, diagnosisPayload, eventOf } from './payloads.js';
import { postSigned } from './send.js';
import { BlockedTarget, TargetGuard } from './target-guard.js';
import type { DeliveryRow, WebhookRow, WebhooksRepo } from './webhooks.repo.js';

export interface WebhookOptions {
  /** First retry delay; doubles per attempt up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  maxAttempts: number;
  timeoutMs: number;
  /** How often the outbox is polled when nothing wakes it. */
  pollMs: number;
  /** Hosts that may be called although they are or resolve to private addresses (GRADWATCH_WEBHOOK_ALLOW_HOSTS). */
  allowHosts: readonly string[];
  /**
   * Keep each project's webhooks in memory between alerts, so projects without any write
   * nothing. Off when several servers share the database: a webhook added through another
   * server must be seen by the next alert here.
   */
  cacheHooks: boolean;
}

export const DEFAULT_WEBHOOK_OPTIONS: WebhookOptions = { baseDelayMs: 1000, maxDelayMs: 600_000, maxAttempts: 8, timeoutMs: 5000, pollMs: 1000, allowHosts: [], cacheHooks: true };

/** A new signing secret: "whsec_" and 32 random bytes, base64url. */
const newSecret = (): string => `whsec_${randomBytes(32).toString('base64url')}`;

const toWebhook = (w: WebhookRow, project: string): Webhook => ({ id: w.id, project, url: w.url, alerts: w.alerts, createdAt: w.createdAt });

const toDelivery = (d: DeliveryRow): Delivery => ({
  id: d.id,
  event: eventOf(d.payload),
  alertId: d.alertId,
  status: d.status as Delivery['status'],
  attempts: d.attempts,
  lastStatus: d.lastStatus,
  lastError: d.lastError,
  nextAttemptAt: new Date(d.nextAttemptAt).toISOString(),
  createdAt: d.createdAt,
  deliveredAt: d.deliveredAt,
});

/**
 * Alert events to project webhooks. Deliveries are written to an outbox in the transaction that
 * raised the alert, then sent in the background with retries and exponential back-off, so a
 * slow or dead endpoint never slows ingest and nothing is lost across a restart.
 */
export class WebhooksService {
  private readonly hooksByProject = new Map<number, Array<{ id: number; alerts: boolean }>>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private stopped = false;
  private readonly guard: TargetGuard;
  /**
   * The sender's timers run in the async context the service was made in (boot), not in the
   * caller's: kick() is called from inside ingest transactions, and on PostgreSQL a timer made
   * there would carry the transaction along (AsyncLocalStorage), so the claims and settles of
   * the sender would run on a transaction's connection, joined to it or after its end (and lost).
   */
  private readonly outside = AsyncLocalStorage.snapshot();

  constructor(
    private readonly repo: WebhooksRepo,
    private readonly projects: ProjectsService,
    private readonly opts: WebhookOptions = DEFAULT_WEBHOOK_OPTIONS,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    this.guard = new TargetGuard(opts.allowHosts);
  }

  async list(project: string): Promise<WebhookList> {
    const p = await this.projects.require(project);
    return { webhooks: (await this.repo.ofProject(p.id)).map((w) => toWebhook(w, p.name)) };
  }

  /** Checks the target (resolved, against the private ranges), then stores it with a new signing secret. */
  async create(project: string, url: string, alerts = true): Promise<WebhookCreated> {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw badRequest(`not a valid URL: ${url}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw badRequest(`webhooks take http or https URLs, not ${u.protocol}`);
    try {
      await this.guard.check(u);
    } catch (e) {
      if (e instanceof BlockedTarget) throw badRequest(`webhook URL refused: ${e.message}`);
      throw badRequest(`webhook URL refused: cannot resolve ${u.hostname} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const p = await this.projects.ensure(project);
    const secret = newSecret();
    const w = await this.repo.insert(p.id, url, secret, alerts, new Date().toISOString());
    this.invalidate(p.id);
    return { ...toWebhook(w, p.name), secret };
  }

  /** The webhook when it belongs to the project; else a 404 (another project's looks absent). */
  private async requireHook(project: string, id: number): Promise<{ projectId: number; hook: WebhookRow }> {
    const p = await this.projects.find(project);
    const h = p ? await this.repo.byId(id) : undefined;
    if (!p || !h || h.projectId !== p.id) throw notFound(`no webhook ${id} in project ${project}`);
    return { projectId: p.id, hook: h };
  }

  async delete(project: string, id: number): Promise<void> {
    const { projectId, hook } = await this.requireHook(project, id);
    await this.repo.delete(hook.id);
    this.invalidate(projectId);
  }

  async deliveries(project: string, id: number, q: DeliveryQuery): Promise<DeliveryList> {
    const { hook } = await this.requireHook(project, id);
    return { deliveries: (await this.repo.deliveries(hook.id, q.status, q.limit ?? 100)).map(toDelivery) };
  }

  private async hooksOf(projectId: number): Promise<Array<{ id: number; alerts: boolean }>> {
    let hooks = this.hooksByProject.get(projectId);
    if (!hooks) {
      hooks = (await this.repo.ofProject(projectId)).map((w) => ({ id: w.id, alerts: w.alerts }));
      this.hooksByProject.set(projectId, hooks);
    }
    return hooks;
  }

  /** Call after adding or removing a project's webhooks. */
  invalidate(projectId: number): void {
    this.hooksByProject.delete(projectId);
  }

  /** Queues one delivery per webhook of the project that takes symptom alerts; call inside the transaction. */
  async enqueue(projectId: number, alert: Alert): Promise<void> {
    if (!(await this.mayHaveHooks(projectId, true))) return;
    await this.repo.enqueueAll(projectId, true, alert.id, JSON.stringify(alertPayload(alert)), Date.now(), new Date().toISOString());
  }

  /** The run's top verdict changed: one delivery per webhook of the project; call inside the transaction. */
  async enqueueDiagnosis(projectId: number, runId: string, project: string, diagnosis: Diagnosis | null): Promise<void> {
    if (!(await this.mayHaveHooks(projectId, false))) return;
    await this.repo.enqueueAll(projectId, false, null, JSON.stringify(diagnosisPayload(runId, project, diagnosis)), Date.now(), new Date().toISOString());
  }

  /**
   * With the hooks cached (one server), whether the project has one to queue for. Without (a
   * shared database), always: the outbox insert itself picks the webhooks, in the transaction,
   * so one added through another server is seen, and nothing is read first.
   */
  private async mayHaveHooks(projectId: number, alertsOnly: boolean): Promise<boolean> {
    if (!this.opts.cacheHooks) return true;
    return (await this.hooksOf(projectId)).some((h) => h.alerts || !alertsOnly);
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Wakes the sender now (after a commit that queued deliveries). */
  kick(): void {
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = this.outside(() => setTimeout(() => void this.run(), ms));
    this.timer.unref();
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      // Claimed past the longest attempt: another server skips these until they are settled.
      const due = await this.repo.claimDue(Date.now(), 20, this.opts.timeoutMs * 2 + 10_000);
      await Promise.all(due.map((d) => this.deliver(d)));
      this.schedule(due.length === 20 ? 0 : this.opts.pollMs);
    } catch (err) {
      // The database is unreachable or busy: the outbox keeps everything; try again later.
      this.onError(err);
      this.schedule(this.opts.pollMs);
    } finally {
      this.running = false;
    }
  }

  private async deliver(d: DeliveryRow & { url: string; secret: string }): Promise<void> {
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await postSigned(d.url, d.payload, d.secret, d.id, this.guard, this.opts.timeoutMs);
      status = res.status;
      if (this.stopped) return;
      if (status >= 200 && status < 300) {
        await this.repo.settle(d.id, { status: 'delivered', attempts: d.attempts + 1, lastStatus: status, lastError: null, deliveredAt: new Date().toISOString() });
        return;
      }
      error = res.location !== undefined ? `HTTP ${status}: redirects are not followed (to ${res.location})` : `HTTP ${status}`;
    } catch (e) {
      error = e instanceof Error ? (e.cause instanceof Error ? `${e.message}: ${e.cause.message}` : e.message) : String(e);
    }
    // Stopped while the call was out (shutdown: the database may be closed). The delivery stays
    // pending and is sent again after a restart; the delivery id lets a receiver drop the repeat.
    if (this.stopped) return;
    const n = d.attempts + 1;
    const giveUp = n >= this.opts.maxAttempts;
    const delay = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** (n - 1));
    await this.repo.settle(d.id, { status: giveUp ? 'failed' : 'pending', attempts: n, lastStatus: status, lastError: error, nextAttemptAt: Date.now() + delay });
  }
}
