import { and, desc, eq, inArray, like, lt, or, sql } from 'drizzle-orm';
import type { Db } from './db.js';
import { alerts, histograms, projects, runEvents, runs, series } from './schema.js';

export type RunRow = typeof runs.$inferSelect;
export type ProjectRow = typeof projects.$inferSelect;

export interface RunFilter {
  project?: string;
  statuses?: string[];
  search?: string;
  staleBefore: string;
  connected: string[];
  cursor?: { lastSeenAt: string; id: number };
  limit: number;
}

/** Runs, projects and run events: queries only. */
export class RunsRepo {
  /** The one write on every commit: a prepared statement, not a query built each time. */
  private readonly progressStmt;

  constructor(private readonly db: Db) {
    this.progressStmt = db.$client.prepare('UPDATE runs SET last_seq = ?, last_step = ?, last_seen_at = ? WHERE id = ?');
  }

  updateProgress(id: number, lastSeq: number, lastStep: number | null, lastSeenAt: string): void {
    this.progressStmt.run(lastSeq, lastStep, lastSeenAt, id);
  }

  projectByName(name: string): ProjectRow | undefined {
    return this.db.select().from(projects).where(eq(projects.name, name)).get();
  }

  ensureProject(name: string): ProjectRow {
    this.db.insert(projects).values({ name }).onConflictDoNothing().run();
    const p = this.projectByName(name);
    if (!p) throw new Error(`project ${name} vanished`);
    return p;
  }

  projectsWithCounts(): Array<ProjectRow & { runCount: number; lastSeenAt: string | null }> {
    return this.db
      .select({
        id: projects.id,
        name: projects.name,
        ruleSettings: projects.ruleSettings,
        createdAt: projects.createdAt,
        runCount: sql<number>`count(${runs.id})`,
        lastSeenAt: sql<string | null>`max(${runs.lastSeenAt})`,
      })
      .from(projects)
      .leftJoin(runs, eq(runs.projectId, projects.id))
      .groupBy(projects.id)
      .orderBy(projects.name)
      .all();
  }

  setRuleSettings(projectId: number, json: string): void {
    this.db.update(projects).set({ ruleSettings: json }).where(eq(projects.id, projectId)).run();
  }

  byUid(uid: string): RunRow | undefined {
    return this.db.select().from(runs).where(eq(runs.uid, uid)).get();
  }

  byId(id: number): RunRow | undefined {
    return this.db.select().from(runs).where(eq(runs.id, id)).get();
  }

  insert(values: typeof runs.$inferInsert): RunRow {
    return this.db.insert(runs).values(values).returning().get();
  }

  update(id: number, values: Partial<typeof runs.$inferInsert>): void {
    this.db.update(runs).set(values).where(eq(runs.id, id)).run();
  }

  /** Newest first by last activity; the cursor is the (lastSeenAt, id) of the last row seen. */
  list(f: RunFilter): { rows: Array<RunRow & { project: string }>; total: number } {
    const conds = [];
    if (f.project !== undefined) conds.push(eq(projects.name, f.project));
    if (f.search) {
      const pat = `%${f.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      conds.push(or(sql`${runs.name} LIKE ${pat} ESCAPE '\\'`, sql`${runs.tags} LIKE ${pat} ESCAPE '\\'`, like(runs.uid, pat)));
    }
    if (f.statuses && f.statuses.length > 0) {
      const ended = f.statuses.filter((s) => s !== 'live' && s !== 'stale');
      const parts = [];
      if (ended.length) parts.push(inArray(runs.status, ended));
      const connected = f.connected.length ? inArray(runs.uid, f.connected) : sql`0`;
      if (f.statuses.includes('live')) {
        parts.push(and(eq(runs.status, 'live'), or(connected, sql`${runs.lastSeenAt} >= ${f.staleBefore}`)));
      }
      if (f.statuses.includes('stale')) {
        parts.push(and(eq(runs.status, 'live'), sql`NOT (${connected})`, lt(runs.lastSeenAt, f.staleBefore)));
      }
      conds.push(or(...parts));
    }
    const where = conds.length ? and(...conds) : undefined;
    const total = this.db
      .select({ n: sql<number>`count(*)` })
      .from(runs)
      .innerJoin(projects, eq(projects.id, runs.projectId))
      .where(where)
      .get()?.n ?? 0;
    const page = f.cursor
      ? and(where, or(lt(runs.lastSeenAt, f.cursor.lastSeenAt), and(eq(runs.lastSeenAt, f.cursor.lastSeenAt), lt(runs.id, f.cursor.id))))
      : where;
    const rows = this.db
      .select({ run: runs, project: projects.name })
      .from(runs)
      .innerJoin(projects, eq(projects.id, runs.projectId))
      .where(page)
      .orderBy(desc(runs.lastSeenAt), desc(runs.id))
      .limit(f.limit)
      .all()
      .map((r) => ({ ...r.run, project: r.project }));
    return { rows, total };
  }

  projectName(projectId: number): string {
    return this.db.select({ name: projects.name }).from(projects).where(eq(projects.id, projectId)).get()?.name ?? '';
  }

  addEvent(runId: number, kind: string, step: number | null, detail: object, at: string): void {
    this.db.insert(runEvents).values({ runId, kind, step, detail: JSON.stringify(detail), at }).run();
  }

  events(runId: number): Array<typeof runEvents.$inferSelect> {
    return this.db.select().from(runEvents).where(eq(runEvents.runId, runId)).orderBy(runEvents.id).all();
  }

  openAlertCounts(runIds: number[]): Map<number, { info: number; warning: number; critical: number }> {
    const out = new Map<number, { info: number; warning: number; critical: number }>();
    if (runIds.length === 0) return out;
    const rows = this.db
      .select({ runId: alerts.runId, severity: alerts.severity, n: sql<number>`count(*)` })
      .from(alerts)
      .where(and(inArray(alerts.runId, runIds), eq(alerts.status, 'open'), eq(alerts.muted, false)))
      .groupBy(alerts.runId, alerts.severity)
      .all();
    for (const r of rows) {
      const c = out.get(r.runId) ?? { info: 0, warning: 0, critical: 0 };
      if (r.severity === 'info' || r.severity === 'warning' || r.severity === 'critical') c[r.severity] = r.n;
      out.set(r.runId, c);
    }
    return out;
  }

  /** Deletes the run's rows in tables that cascade; the point store clears its own tables. */
  deleteRun(runId: number): void {
    this.db.delete(histograms).where(eq(histograms.runId, runId)).run();
    this.db.delete(series).where(eq(series.runId, runId)).run();
    this.db.delete(runs).where(eq(runs.id, runId)).run();
  }

  runsOfProject(projectId: number): RunRow[] {
    return this.db.select().from(runs).where(eq(runs.projectId, projectId)).all();
  }

  deleteProject(projectId: number): void {
    this.db.delete(projects).where(eq(projects.id, projectId)).run();
  }
}
