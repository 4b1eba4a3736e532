import { and, desc, eq, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
import { projects, runEvents, runs } from '../storage/schema.js';

export type RunRow = typeof runs.$inferSelect;

export interface RunFilter {
  project?: string;
  statuses?: string[];
  search?: string;
  staleBefore: string;
  connected: string[];
  cursor?: { lastSeenAt: string; id: number };
  limit: number;
}

/** Runs and their events: queries only. */
export class RunsRepo {
  /** The one write on every commit: a prepared statement, not a query built each time. */
  private readonly progressStmt;

  constructor(private readonly db: Db) {
    this.progressStmt = db.$client.prepare('UPDATE runs SET last_seq = ?, last_step = ?, last_seen_at = ? WHERE id = ?');
  }

  updateProgress(id: number, lastSeq: number, lastStep: number | null, lastSeenAt: string): void {
    this.progressStmt.run(lastSeq, lastStep, lastSeenAt, id);
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
  /** Uids of runs whose last activity (last message, or their end) is before `cutoff`. */
  inactiveSince(cutoff: string): string[] {
    return this.db
      .select({ uid: runs.uid })
      .from(runs)
      .where(sql`max(${runs.lastSeenAt}, coalesce(${runs.endedAt}, ${runs.lastSeenAt})) < ${cutoff}`)
      .orderBy(runs.id)
      .all()
      .map((r) => r.uid);
  }

  list(f: RunFilter): { rows: Array<RunRow & { project: string }>; total: number } {
    const conds = [];
    if (f.project !== undefined) conds.push(eq(projects.name, f.project));
    if (f.search) {
      // A literal substring, case-insensitive for ASCII as LIKE was. Not LIKE: its pattern ends at
      // a NUL ("%\0%" matched every run) and gives %, _ and \ meanings a search must not have.
      // Tags are matched on their values, not on their JSON text (quotes and escapes).
      const needle = f.search.replace(/[A-Z]/g, (c) => c.toLowerCase());
      const has = (col: SQL) => sql`instr(lower(${col}), ${needle}) > 0`;
      conds.push(or(has(sql`${runs.name}`), has(sql`${runs.uid}`), sql`EXISTS (SELECT 1 FROM json_each(${runs.tags}) WHERE ${has(sql`value`)})`));
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

  addEvent(runId: number, kind: string, step: number | null, detail: object, at: string): void {
    this.db.insert(runEvents).values({ runId, kind, step, detail: JSON.stringify(detail), at }).run();
  }

  events(runId: number): Array<typeof runEvents.$inferSelect> {
    return this.db.select().from(runEvents).where(eq(runEvents.runId, runId)).orderBy(runEvents.id).all();
  }

  /** Deletes the run; alerts and events cascade, the point store has cleared its own tables. */
  deleteRun(runId: number): void {
    this.db.delete(runs).where(eq(runs.id, runId)).run();
  }

  runsOfProject(projectId: number): RunRow[] {
    return this.db.select().from(runs).where(eq(runs.projectId, projectId)).all();
  }
}
