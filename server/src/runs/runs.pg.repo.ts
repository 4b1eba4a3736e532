import type { PgDb } from '../storage/pg.js';
import { and, asciiLower, definedKeys, or, rowKeys, type Fragment, type Q } from '../storage/pg-sql.js';
import { runEvents, runs } from '../storage/schema.js';
import type { ProgressRow, RunFilter, RunRow, RunsRepo } from './runs.repo.js';

type RunEventRow = typeof runEvents.$inferSelect;

const COLS = rowKeys(runs);
const R_COLS = rowKeys(runs, 'r');
const EVENT_COLS = rowKeys(runEvents);

/**
 * Runs on PostgreSQL, shared by several servers: the same queries as SqliteRunsRepo, plus the
 * lease that lets one server at a time write a run. Times are ISO text, compared and ordered
 * with COLLATE "C" (byte order, as SQLite's BINARY), whatever the database's default collation.
 */
export class PgRunsRepo implements RunsRepo {
  constructor(private readonly db: PgDb) {}

  /**
   * Fenced by the lease epoch: once another server has claimed the run the epoch differs and
   * nothing is written. A claim racing this update waits on the row lock, and READ COMMITTED
   * re-checks the WHERE on the row as it is after the claim, so a stale owner never commits.
   */
  async updateProgress(id: number, lastSeq: number, lastStep: number | null, lastSeenAt: string, epoch: number): Promise<boolean> {
    const q = this.db.q();
    const r = await q`UPDATE runs SET last_seq = ${lastSeq}, last_step = ${lastStep}, last_seen_at = ${lastSeenAt} WHERE id = ${id} AND lease_epoch = ${epoch}`;
    return r.count > 0;
  }

  /** One round trip for every run a batch touched, each fenced by its own epoch as above. */
  async updateProgressMany(rows: readonly ProgressRow[], lastSeenAt: string): Promise<number[]> {
    if (rows.length === 0) return [];
    const q = this.db.q();
    const num = (xs: Array<number | null>) => q.array(xs as number[]);
    const done = await q<Array<{ id: number }>>`
      UPDATE runs r SET last_seq = u.seq, last_step = u.step, last_seen_at = ${lastSeenAt}
      FROM unnest(${num(rows.map((x) => x.id))}::int4[], ${num(rows.map((x) => x.lastSeq))}::int8[],
                  ${num(rows.map((x) => x.lastStep))}::int8[], ${num(rows.map((x) => x.epoch))}::int4[]) AS u(id, seq, step, epoch)
      WHERE r.id = u.id AND r.lease_epoch = u.epoch
      RETURNING r.id`;
    return done.map((d) => d.id);
  }

  async claim(id: number, owner: string): Promise<number> {
    const q = this.db.q();
    const [row] = await q<Array<{ leaseEpoch: number }>>`UPDATE runs SET owner = ${owner}, lease_epoch = lease_epoch + 1 WHERE id = ${id} RETURNING lease_epoch`;
    if (!row) throw new Error(`run ${id} does not exist`);
    return row.leaseEpoch;
  }

  async byUid(uid: string): Promise<RunRow | undefined> {
    const q = this.db.q();
    const [row] = await q<RunRow[]>`SELECT ${q(COLS)} FROM runs WHERE uid = ${uid}`;
    return row;
  }

  async byId(id: number): Promise<RunRow | undefined> {
    const q = this.db.q();
    const [row] = await q<RunRow[]>`SELECT ${q(COLS)} FROM runs WHERE id = ${id}`;
    return row;
  }

  async insert(values: typeof runs.$inferInsert): Promise<RunRow> {
    const q = this.db.q();
    const [row] = await q<RunRow[]>`INSERT INTO runs ${q(values, ...definedKeys(values))} RETURNING ${q(COLS)}`;
    if (!row) throw new Error('INSERT INTO runs returned no row');
    return row;
  }

  setDiagnoses(id: number, json: string): Promise<void> {
    return this.update(id, { diagnoses: json });
  }

  async update(id: number, values: Partial<typeof runs.$inferInsert>): Promise<void> {
    const keys = definedKeys(values);
    if (keys.length === 0) return;
    const q = this.db.q();
    // Nothing read back: within an ingest batch (a verdict, the model) it is pipelined.
    await this.db.later(q`UPDATE runs SET ${q(values, ...keys)} WHERE id = ${id}`);
  }

  /** Uids of runs whose last activity (last message, or their end) is before `cutoff`. */
  async inactiveSince(cutoff: string): Promise<string[]> {
    const q = this.db.q();
    const rows = await q<Array<{ uid: string }>>`
      SELECT uid FROM runs
      WHERE GREATEST(last_seen_at COLLATE "C", coalesce(ended_at, last_seen_at) COLLATE "C") < ${cutoff}
      ORDER BY id`;
    return rows.map((r) => r.uid);
  }

  /** Newest first by last activity; the cursor is the (lastSeenAt, id) of the last row seen. */
  async list(f: RunFilter): Promise<{ rows: Array<RunRow & { project: string }>; total: number }> {
    const q = this.db.q();
    const where = and(q, filterConditions(q, f));
    const [count] = await q<Array<{ n: number }>>`SELECT count(*) AS n FROM runs r JOIN projects p ON p.id = r.project_id WHERE ${where}`;
    const c = f.cursor;
    const page = c
      ? q`${where} AND (r.last_seen_at COLLATE "C" < ${c.lastSeenAt} OR (r.last_seen_at = ${c.lastSeenAt} AND r.id < ${c.id}))`
      : where;
    const rows = await q<Array<RunRow & { project: string }>>`
      SELECT ${q(R_COLS)}, p.name AS project
      FROM runs r JOIN projects p ON p.id = r.project_id
      WHERE ${page}
      ORDER BY r.last_seen_at COLLATE "C" DESC, r.id DESC
      LIMIT ${f.limit}`;
    return { rows, total: count?.n ?? 0 };
  }

  async addEvent(runId: number, kind: string, step: number | null, detail: object, at: string): Promise<void> {
    const q = this.db.q();
    await q`INSERT INTO run_events (run_id, kind, step, detail, at) VALUES (${runId}, ${kind}, ${step}, ${JSON.stringify(detail)}, ${at})`;
  }

  async events(runId: number): Promise<RunEventRow[]> {
    const q = this.db.q();
    return q<RunEventRow[]>`SELECT ${q(EVENT_COLS)} FROM run_events WHERE run_id = ${runId} ORDER BY id`;
  }

  /** Deletes the run; alerts and events cascade, the point store has cleared its own tables. */
  async deleteRun(runId: number): Promise<void> {
    const q = this.db.q();
    await q`DELETE FROM runs WHERE id = ${runId}`;
  }

  /** In id order, as SQLite reads the table without an index. */
  async runsOfProject(projectId: number): Promise<RunRow[]> {
    const q = this.db.q();
    return q<RunRow[]>`SELECT ${q(COLS)} FROM runs WHERE project_id = ${projectId} ORDER BY id`;
  }
}

/**
 * JSON escapes of characters PostgreSQL text cannot hold: NUL, and a lone surrogate (the only
 * kind JSON.stringify escapes). An escape is one when the backslash before it is not itself
 * escaped. jsonb refuses them, and one such tag would make every search fail.
 */
const TEXTLESS_ESCAPE = String.raw`(?<!\\)((?:\\\\)*)\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})`;
const REPLACEMENT_CHAR = String.raw`\1\\ufffd`;

/** r.tags as jsonb, such escapes replaced by U+FFFD (as UTF-8 encoding does to a lone surrogate). */
const tagsJson = (q: Q): Fragment => q`regexp_replace(r.tags, ${TEXTLESS_ESCAPE}, ${REPLACEMENT_CHAR}, 'g')::jsonb`;

/** The WHERE of list(), on runs r joined with projects p: the same filter as the SQLite repo. */
function filterConditions(q: Q, f: RunFilter): Fragment[] {
  const conds: Fragment[] = [];
  if (f.project !== undefined) conds.push(q`p.name = ${f.project}`);
  if (f.search) {
    // A literal substring, case-insensitive for ASCII (strpos, not LIKE: no pattern characters),
    // on the name, the uid or a tag's value (not its JSON text).
    const needle = f.search.replace(/[A-Z]/g, (ch) => ch.toLowerCase());
    const has = (col: Fragment) => q`strpos(${asciiLower(q, col)}, ${needle}) > 0`;
    conds.push(
      // PostgreSQL text cannot hold a NUL, so no stored name contains one (and the parameter would be refused).
      needle.includes('\0')
        ? q`FALSE`
        : or(q, [has(q`r.name`), has(q`r.uid`), q`EXISTS (SELECT 1 FROM jsonb_array_elements_text(${tagsJson(q)}) AS t(v) WHERE ${has(q`t.v`)})`]),
    );
  }
  if (f.statuses && f.statuses.length > 0) {
    const ended = f.statuses.filter((s) => s !== 'live' && s !== 'stale');
    const parts: Fragment[] = [];
    if (ended.length) parts.push(q`r.status IN ${q(ended)}`);
    // A run with a socket open on some server is live however long ago its last message was.
    const connected = f.connected.length ? q`r.uid IN ${q(f.connected)}` : q`FALSE`;
    if (f.statuses.includes('live')) {
      parts.push(q`r.status = 'live' AND (${connected} OR r.last_seen_at COLLATE "C" >= ${f.staleBefore})`);
    }
    if (f.statuses.includes('stale')) {
      parts.push(q`r.status = 'live' AND NOT (${connected}) AND r.last_seen_at COLLATE "C" < ${f.staleBefore}`);
    }
    conds.push(or(q, parts));
  }
  return conds;
}
