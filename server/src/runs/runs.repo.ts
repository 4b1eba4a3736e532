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

/** One run's progress at a commit, under the lease it is written by. */
export interface ProgressRow {
  id: number;
  lastSeq: number;
  lastStep: number | null;
  epoch: number;
}

/** Runs and their events: queries only. */
export interface RunsRepo {
  /**
   * Progress on every commit. `epoch` is the writer's lease (see claim): false, and nothing
   * written, when another server has taken the run over since.
   */
  updateProgress(id: number, lastSeq: number, lastStep: number | null, lastSeenAt: string, epoch: number): Promise<boolean>;
  /**
   * Makes `owner` the one writer of the run and returns its lease epoch; any earlier owner's
   * updateProgress fails from then on. A single-server store has nothing to fence: always 0.
   */
  claim(id: number, owner: string): Promise<number>;
  /** updateProgress for several runs in one statement; returns the ids written (a missing one lost its lease). */
  updateProgressMany(rows: readonly ProgressRow[], lastSeenAt: string): Promise<number[]>;
  byUid(uid: string): Promise<RunRow | undefined>;
  byId(id: number): Promise<RunRow | undefined>;
  insert(values: typeof runs.$inferInsert): Promise<RunRow>;
  update(id: number, values: Partial<typeof runs.$inferInsert>): Promise<void>;
  /** The run's verdict (JSON): written at every change of its alerts, so kept cheap. */
  setDiagnoses(id: number, json: string): Promise<void>;
  /** Uids of runs whose last activity (last message, or their end) is before `cutoff`. */
  inactiveSince(cutoff: string): Promise<string[]>;
  list(f: RunFilter): Promise<{ rows: Array<RunRow & { project: string }>; total: number }>;
  addEvent(runId: number, kind: string, step: number | null, detail: object, at: string): Promise<void>;
  events(runId: number): Promise<Array<typeof runEvents.$inferSelect>>;
  /** Deletes the run; alerts and events cascade, the point store has cleared its own tables. */
  deleteRun(runId: number): Promise<void>;
  runsOfProject(projectId: number): Promise<RunRow[]>;
}

export class SqliteRunsRepo implements RunsRepo {
  /** The one write on every commit: a prepared statement, not a query built each time. */
  private readonly progressStmt;
  /** Written at every alert change (a drizzle update prepared its statement each time). */
  private readonly diagnosesStmt;

  constructor(private readonly db: Db) {
    this.progressStmt = db.$client.prepare('UPDATE runs SET last_seq = ?, last_step = ?, last_seen_at = ? WHERE id = ?');
    this.diagnosesStmt = db.$client.prepare('UPDATE runs SET diagnoses = ? WHERE id = ?');
  }

  async setDiagnoses(id: number, json: string): Promise<void> {
    this.diagnosesStmt.run(json, id);
  }

  async updateProgress(id: number, lastSeq: number, lastStep: number | null, lastSeenAt: string): Promise<boolean> {
    this.progressStmt.run(lastSeq, lastStep, lastSeenAt, id);
    return true;
  }

  async updateProgressMany(rows: readonly ProgressRow[], lastSeenAt: string): Promise<number[]> {
    for (const r of rows) this.progressStmt.run(r.lastSeq, r.lastStep, lastSeenAt, r.id);
    return rows.map((r) => r.id);
  }

  /** One process writes a SQLite file: there is no other owner to fence off. */
  async claim(): Promise<number> {
    return 0;
  }

  async byUid(uid: string): Promise<RunRow | undefined> {
    return this.db.select().from(runs).where(eq(runs.uid, uid)).get();
  }

  async byId(id: number): Promise<RunRow | undefined> {
    return this.db.select().from(runs).where(eq(runs.id, id)).get();
  }

  async insert(values: typeof runs.$inferInsert): Promise<RunRow> {
    return this.db.insert(runs).values(values).returning().get();
  }

  async update(id: number, values: Partial<typeof runs.$inferInsert>): Promise<void> {
    this.db.update(runs).set(values).where(eq(runs.id, id)).run();
  }

  /** Newest first by last activity; the cursor is the (lastSeenAt, id) of the last row seen. */
  /** Uids of runs whose last activity (last message, or their end) is before `cutoff`. */
  async inactiveSince(cutoff: string): Promise<string[]> {
    return this.db
      .select({ uid: runs.uid })
      .from(runs)
      .where(sql`max(${runs.lastSeenAt}, coalesce(${runs.endedAt}, ${runs.lastSeenAt})) < ${cutoff}`)
      .orderBy(runs.id)
      .all()
      .map((r) => r.uid);
  }

  async list(f: RunFilter): Promise<{ rows: Array<RunRow & { project: string }>; total: number }> {
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

  async addEvent(runId: number, kind: string, step: number | null, detail: object, at: string): Promise<void> {
    this.db.insert(runEvents).values({ runId, kind, step, detail: JSON.stringify(detail), at }).run();
  }

  async events(runId: number): Promise<Array<typeof runEvents.$inferSelect>> {
    return this.db.select().from(runEvents).where(eq(runEvents.runId, runId)).orderBy(runEvents.id).all();
  }

  /** Deletes the run; alerts and events cascade, the point store has cleared its own tables. */
  async deleteRun(runId: number): Promise<void> {
    this.db.delete(runs).where(eq(runs.id, runId)).run();
  }

  async runsOfProject(projectId: number): Promise<RunRow[]> {
    return this.db.select().from(runs).where(eq(runs.projectId, projectId)).all();
  }
}
