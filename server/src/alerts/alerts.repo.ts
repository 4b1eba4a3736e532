import { and, desc, eq, gte, inArray, lt, lte, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
import { alerts, projects, runs } from '../storage/schema.js';

export type AlertRow = typeof alerts.$inferSelect;

export interface AlertFilter {
  project?: string;
  runUid?: string;
  rule?: string;
  severity?: string[];
  status?: string;
  layer?: string;
  since?: string;
  until?: string;
  beforeId?: number;
  limit: number;
}

/** Alert rows: queries only. */
export interface AlertsRepo {
  openOfRun(runId: number): Promise<AlertRow[]>;
  progress(id: number, severity: string, lastStep: number, evidence: string, advice: string, layers: string | null, updatedAt: string): Promise<void>;
  insert(values: typeof alerts.$inferInsert): Promise<AlertRow>;
  update(id: number, values: Partial<typeof alerts.$inferInsert>): Promise<AlertRow | undefined>;
  byId(id: number): Promise<(AlertRow & { runUid: string; project: string }) | undefined>;
  list(f: AlertFilter): Promise<Array<AlertRow & { runUid: string; project: string }>>;
  /** Open, unmuted alerts per run and severity. */
  openCounts(runIds: number[]): Promise<Array<{ runId: number; severity: string; n: number }>>;
}

export class SqliteAlertsRepo implements AlertsRepo {
  /** Alerts progress on the ingest path: that write is prepared once. */
  private readonly progressStmt;

  constructor(private readonly db: Db) {
    this.progressStmt = db.$client.prepare(
      'UPDATE alerts SET severity = ?, last_step = ?, evidence = ?, advice = ?, layers = ?, updated_at = ? WHERE id = ?',
    );
  }

  async openOfRun(runId: number): Promise<AlertRow[]> {
    return this.db.select().from(alerts).where(and(eq(alerts.runId, runId), eq(alerts.status, 'open'))).all();
  }

  async progress(id: number, severity: string, lastStep: number, evidence: string, advice: string, layers: string | null, updatedAt: string): Promise<void> {
    this.progressStmt.run(severity, lastStep, evidence, advice, layers, updatedAt, id);
  }

  async insert(values: typeof alerts.$inferInsert): Promise<AlertRow> {
    return this.db.insert(alerts).values(values).returning().get();
  }

  async update(id: number, values: Partial<typeof alerts.$inferInsert>): Promise<AlertRow | undefined> {
    return this.db.update(alerts).set(values).where(eq(alerts.id, id)).returning().get();
  }

  async byId(id: number): Promise<(AlertRow & { runUid: string; project: string }) | undefined> {
    const r = this.db
      .select({ a: alerts, runUid: runs.uid, project: projects.name })
      .from(alerts)
      .innerJoin(runs, eq(runs.id, alerts.runId))
      .innerJoin(projects, eq(projects.id, alerts.projectId))
      .where(eq(alerts.id, id))
      .get();
    return r ? { ...r.a, runUid: r.runUid, project: r.project } : undefined;
  }

  async list(f: AlertFilter): Promise<Array<AlertRow & { runUid: string; project: string }>> {
    const conds: SQL[] = [];
    if (f.project !== undefined) conds.push(eq(projects.name, f.project));
    if (f.runUid !== undefined) conds.push(eq(runs.uid, f.runUid));
    if (f.rule !== undefined) conds.push(eq(alerts.rule, f.rule));
    if (f.severity?.length) conds.push(inArray(alerts.severity, f.severity));
    if (f.status !== undefined) conds.push(eq(alerts.status, f.status));
    if (f.layer !== undefined) conds.push(eq(alerts.layer, f.layer));
    if (f.since !== undefined) conds.push(gte(alerts.updatedAt, f.since));
    if (f.until !== undefined) conds.push(lte(alerts.createdAt, f.until));
    if (f.beforeId !== undefined) conds.push(lt(alerts.id, f.beforeId));
    return this.db
      .select({ a: alerts, runUid: runs.uid, project: projects.name })
      .from(alerts)
      .innerJoin(runs, eq(runs.id, alerts.runId))
      .innerJoin(projects, eq(projects.id, alerts.projectId))
      .where(conds.length ? and(...conds) : undefined)
      .orderBy(desc(alerts.id))
      .limit(f.limit)
      .all()
      .map((r) => ({ ...r.a, runUid: r.runUid, project: r.project }));
  }

  /** Open, unmuted alerts per run and severity. */
  async openCounts(runIds: number[]): Promise<Array<{ runId: number; severity: string; n: number }>> {
    if (runIds.length === 0) return [];
    return this.db
      .select({ runId: alerts.runId, severity: alerts.severity, n: sql<number>`count(*)` })
      .from(alerts)
      .where(and(inArray(alerts.runId, runIds), eq(alerts.status, 'open'), eq(alerts.muted, false)))
      .groupBy(alerts.runId, alerts.severity)
      .all();
  }
}
