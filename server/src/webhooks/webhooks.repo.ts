import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
import { webhookDeliveries, webhooks } from '../storage/schema.js';

export type WebhookRow = typeof webhooks.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;

/** Webhooks and their delivery outbox: queries only. */
export interface WebhooksRepo {
  ofProject(projectId: number): Promise<WebhookRow[]>;
  byId(id: number): Promise<WebhookRow | undefined>;
  insert(projectId: number, url: string, secret: string, alerts: boolean, createdAt: string): Promise<WebhookRow>;
  delete(id: number): Promise<void>;
  /**
   * One delivery of `payload` for each webhook of the project (with `alertsOnly`, each that
   * takes symptom alerts), due at `now` (ms). One statement that reads nothing back, so it may be
   * pipelined within an ingest batch (PostgreSQL).
   */
  enqueueAll(projectId: number, alertsOnly: boolean, alertId: number | null, payload: string, now: number, createdAt: string): Promise<void>;
  /**
   * Claims up to `limit` pending deliveries due by `now` (ms): each is hidden from other
   * claimers until `now + leaseMs`, so with several servers one delivery is attempted by one
   * server (PostgreSQL: FOR UPDATE SKIP LOCKED). settle() ends or reschedules the claim.
   */
  claimDue(now: number, limit: number, leaseMs: number): Promise<Array<DeliveryRow & { url: string; secret: string }>>;
  settle(id: number, values: Partial<typeof webhookDeliveries.$inferInsert>): Promise<void>;
  deliveries(webhookId: number, status: string | undefined, limit: number): Promise<DeliveryRow[]>;
}

export class SqliteWebhooksRepo implements WebhooksRepo {
  constructor(private readonly db: Db) {}

  async ofProject(projectId: number): Promise<WebhookRow[]> {
    return this.db.select().from(webhooks).where(eq(webhooks.projectId, projectId)).orderBy(webhooks.id).all();
  }

  async byId(id: number): Promise<WebhookRow | undefined> {
    return this.db.select().from(webhooks).where(eq(webhooks.id, id)).get();
  }

  async insert(projectId: number, url: string, secret: string, alerts: boolean, createdAt: string): Promise<WebhookRow> {
    return this.db.insert(webhooks).values({ projectId, url, secret, alerts, createdAt }).returning().get();
  }

  async delete(id: number): Promise<void> {
    this.db.delete(webhooks).where(eq(webhooks.id, id)).run();
  }

  async enqueueAll(projectId: number, alertsOnly: boolean, alertId: number | null, payload: string, now: number, createdAt: string): Promise<void> {
    this.db.run(sql`
      INSERT INTO webhook_deliveries (webhook_id, alert_id, payload, status, next_attempt_at, created_at)
      SELECT id, ${alertId}, ${payload}, 'pending', ${now}, ${createdAt} FROM webhooks
      WHERE project_id = ${projectId} AND (alerts OR NOT ${alertsOnly ? 1 : 0}) ORDER BY id`);
  }

  async claimDue(now: number, limit: number, leaseMs: number): Promise<Array<DeliveryRow & { url: string; secret: string }>> {
    const rows = this.db
      .select({ d: webhookDeliveries, url: webhooks.url, secret: webhooks.secret })
      .from(webhookDeliveries)
      .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
      .where(and(eq(webhookDeliveries.status, 'pending'), lt(webhookDeliveries.nextAttemptAt, now + 1)))
      .orderBy(webhookDeliveries.nextAttemptAt)
      .limit(limit)
      .all()
      .map((r) => ({ ...r.d, url: r.url, secret: r.secret }));
    if (rows.length > 0) {
      this.db.update(webhookDeliveries).set({ nextAttemptAt: now + leaseMs }).where(inArray(webhookDeliveries.id, rows.map((r) => r.id))).run();
    }
    return rows;
  }

  async settle(id: number, values: Partial<typeof webhookDeliveries.$inferInsert>): Promise<void> {
    this.db.update(webhookDeliveries).set(values).where(eq(webhookDeliveries.id, id)).run();
  }

  async deliveries(webhookId: number, status: string | undefined, limit: number): Promise<DeliveryRow[]> {
    const where = status ? and(eq(webhookDeliveries.webhookId, webhookId), eq(webhookDeliveries.status, status)) : eq(webhookDeliveries.webhookId, webhookId);
    return this.db.select().from(webhookDeliveries).where(where).orderBy(desc(webhookDeliveries.id)).limit(limit).all();
  }
}
