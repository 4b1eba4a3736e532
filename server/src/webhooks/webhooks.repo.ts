import { and, desc, eq, lt } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
import { webhookDeliveries, webhooks } from '../storage/schema.js';

export type WebhookRow = typeof webhooks.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;

/** Webhooks and their delivery outbox: queries only. */
export class WebhooksRepo {
  constructor(private readonly db: Db) {}

  ofProject(projectId: number): WebhookRow[] {
    return this.db.select().from(webhooks).where(eq(webhooks.projectId, projectId)).orderBy(webhooks.id).all();
  }

  byId(id: number): WebhookRow | undefined {
    return this.db.select().from(webhooks).where(eq(webhooks.id, id)).get();
  }

  insert(projectId: number, url: string, secret: string, alerts: boolean, createdAt: string): WebhookRow {
    return this.db.insert(webhooks).values({ projectId, url, secret, alerts, createdAt }).returning().get();
  }

  delete(id: number): void {
    this.db.delete(webhooks).where(eq(webhooks.id, id)).run();
  }

  enqueue(webhookId: number, alertId: number | null, payload: string, now: number, createdAt: string): void {
    this.db.insert(webhookDeliveries).values({ webhookId, alertId, payload, status: 'pending', nextAttemptAt: now, createdAt }).run();
  }

  due(now: number, limit: number): Array<DeliveryRow & { url: string; secret: string }> {
    return this.db
      .select({ d: webhookDeliveries, url: webhooks.url, secret: webhooks.secret })
      .from(webhookDeliveries)
      .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
      .where(and(eq(webhookDeliveries.status, 'pending'), lt(webhookDeliveries.nextAttemptAt, now + 1)))
      .orderBy(webhookDeliveries.nextAttemptAt)
      .limit(limit)
      .all()
      .map((r) => ({ ...r.d, url: r.url, secret: r.secret }));
  }

  settle(id: number, values: Partial<typeof webhookDeliveries.$inferInsert>): void {
    this.db.update(webhookDeliveries).set(values).where(eq(webhookDeliveries.id, id)).run();
  }

  deliveries(webhookId: number, status: string | undefined, limit: number): DeliveryRow[] {
    const where = status ? and(eq(webhookDeliveries.webhookId, webhookId), eq(webhookDeliveries.status, status)) : eq(webhookDeliveries.webhookId, webhookId);
    return this.db.select().from(webhookDeliveries).where(where).orderBy(desc(webhookDeliveries.id)).limit(limit).all();
  }
}
