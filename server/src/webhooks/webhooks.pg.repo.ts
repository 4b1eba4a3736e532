import type { PgDb } from '../storage/pg.js';
import { definedKeys, rowKeys } from '../storage/pg-sql.js';
import { webhookDeliveries, webhooks } from '../storage/schema.js';
import type { DeliveryRow, WebhookRow, WebhooksRepo } from './webhooks.repo.js';

const HOOK_COLS = rowKeys(webhooks);
const DELIVERY_COLS = rowKeys(webhookDeliveries);
/** The claimed rows as they were before the claim: next_attempt_at is the due time, not the lease. */
const CLAIMED_COLS = rowKeys(webhookDeliveries, 'c').filter((k) => k !== 'c.nextAttemptAt');

/** Webhooks and their delivery outbox on PostgreSQL: the same queries as SqliteWebhooksRepo. */
export class PgWebhooksRepo implements WebhooksRepo {
  constructor(private readonly db: PgDb) {}

  async ofProject(projectId: number): Promise<WebhookRow[]> {
    const q = this.db.q();
    return q<WebhookRow[]>`SELECT ${q(HOOK_COLS)} FROM webhooks WHERE project_id = ${projectId} ORDER BY id`;
  }

  async byId(id: number): Promise<WebhookRow | undefined> {
    const q = this.db.q();
    const [row] = await q<WebhookRow[]>`SELECT ${q(HOOK_COLS)} FROM webhooks WHERE id = ${id}`;
    return row;
  }

  async insert(projectId: number, url: string, secret: string, alerts: boolean, createdAt: string): Promise<WebhookRow> {
    const q = this.db.q();
    const [row] = await q<WebhookRow[]>`
      INSERT INTO webhooks (project_id, url, secret, alerts, created_at) VALUES (${projectId}, ${url}, ${secret}, ${alerts}, ${createdAt})
      RETURNING ${q(HOOK_COLS)}`;
    if (!row) throw new Error('INSERT INTO webhooks returned no row');
    return row;
  }

  async delete(id: number): Promise<void> {
    const q = this.db.q();
    await q`DELETE FROM webhooks WHERE id = ${id}`;
  }

  async enqueueAll(projectId: number, alertsOnly: boolean, alertId: number | null, payload: string, now: number, createdAt: string): Promise<void> {
    const q = this.db.q();
    await this.db.later(q`
      INSERT INTO webhook_deliveries (webhook_id, alert_id, payload, status, next_attempt_at, created_at)
      SELECT id, ${alertId}::int, ${payload}, 'pending', ${now}::int8, ${createdAt} FROM webhooks
      WHERE project_id = ${projectId} AND (alerts OR NOT ${alertsOnly}::bool) ORDER BY id`);
  }

  /**
   * One statement, so two servers never claim the same delivery: the due rows are locked as
   * they are picked (rows another claimer holds are skipped, not waited for) and their due time
   * moved past the lease. A claimer whose snapshot still saw a row due re-checks it after the
   * other's commit (READ COMMITTED), finds it leased, and leaves it.
   */
  async claimDue(now: number, limit: number, leaseMs: number): Promise<Array<DeliveryRow & { url: string; secret: string }>> {
    const q = this.db.q();
    return q<Array<DeliveryRow & { url: string; secret: string }>>`
      WITH due AS (
        SELECT id, next_attempt_at FROM webhook_deliveries
        WHERE status = 'pending' AND next_attempt_at <= ${now}
        ORDER BY next_attempt_at, id
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED
      ), claimed AS (
        UPDATE webhook_deliveries d SET next_attempt_at = ${now + leaseMs}
        FROM due WHERE d.id = due.id
        RETURNING d.*, due.next_attempt_at AS due_at
      )
      SELECT ${q(CLAIMED_COLS)}, c.due_at AS next_attempt_at, w.url, w.secret
      FROM claimed c JOIN webhooks w ON w.id = c.webhook_id
      ORDER BY c.due_at, c.id`;
  }

  async settle(id: number, values: Partial<typeof webhookDeliveries.$inferInsert>): Promise<void> {
    const keys = definedKeys(values);
    if (keys.length === 0) return;
    const q = this.db.q();
    await q`UPDATE webhook_deliveries SET ${q(values, ...keys)} WHERE id = ${id}`;
  }

  async deliveries(webhookId: number, status: string | undefined, limit: number): Promise<DeliveryRow[]> {
    const q = this.db.q();
    return q<DeliveryRow[]>`
      SELECT ${q(DELIVERY_COLS)} FROM webhook_deliveries
      WHERE webhook_id = ${webhookId} ${status ? q`AND status = ${status}` : q``}
      ORDER BY id DESC
      LIMIT ${limit}`;
  }
}
