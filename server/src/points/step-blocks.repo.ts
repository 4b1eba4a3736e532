import type Database from 'better-sqlite3';
import type { Db } from '../storage/db.js';
import type { StepIndexRow } from './step-block-codec.js';
import type { StepAxis, StepBlock, StepBlocksSource } from './step-index.js';
import type { StepRange } from './step-range.js';

const COLS = 'start_step AS startStep, end_step AS endStep, count, time_lo AS timeLo, time_hi AS timeHi, epoch_lo AS epochLo, epoch_hi AS epochHi, data';

/** Where a block may hold a step whose axis value is in [@from, @to]. */
const OVERLAPS: Record<StepAxis, string> = {
  step: 'end_step >= @from AND start_step <= @to',
  time: 'time_hi >= @from AND time_lo <= @to',
  epoch: 'epoch_hi >= @from AND epoch_lo <= @to',
};

const AXES = ['step', 'time', 'epoch'] as const;

function statements(c: Database.Database) {
  const page = (axis: StepAxis, desc: boolean) =>
    c.prepare(
      `SELECT ${COLS} FROM step_blocks WHERE run_id = @run AND ${OVERLAPS[axis]} AND start_step ${desc ? '<' : '>'} @after
       ORDER BY start_step ${desc ? 'DESC' : ''} LIMIT @limit`,
    );
  const tail = (axis: StepAxis) =>
    c.prepare(`SELECT step, time, epoch, examples FROM step_tail WHERE run_id = ? AND indexed = 0 AND ${axis} BETWEEN ? AND ? ORDER BY step`);
  return {
    insert: c.prepare(
      `INSERT INTO step_blocks (run_id, start_step, end_step, count, time_lo, time_hi, epoch_lo, epoch_hi, data)
       VALUES (@run, @startStep, @endStep, @count, @timeLo, @timeHi, @epochLo, @epochHi, @data)`,
    ),
    asc: Object.fromEntries(AXES.map((a) => [a, page(a, false)])) as Record<StepAxis, Database.Statement>,
    desc: Object.fromEntries(AXES.map((a) => [a, page(a, true)])) as Record<StepAxis, Database.Statement>,
    tail: Object.fromEntries(AXES.map((a) => [a, tail(a)])) as Record<StepAxis, Database.Statement>,
    // Scalar subqueries: each is one index seek. Tail rows a block indexes lie inside its range.
    ends: c.prepare(
      `SELECT min(lo) AS lo, max(hi) AS hi FROM (
         SELECT (SELECT min(start_step) FROM step_blocks WHERE run_id = @run) AS lo, (SELECT max(end_step) FROM step_blocks WHERE run_id = @run) AS hi
         UNION ALL SELECT (SELECT min(step) FROM step_tail WHERE run_id = @run), (SELECT max(step) FROM step_tail WHERE run_id = @run))`,
    ),
    count: c.prepare(
      `SELECT (SELECT coalesce(sum(count), 0) FROM step_blocks WHERE run_id = @run)
         + (SELECT count(*) FROM step_tail WHERE run_id = @run AND indexed = 0) AS n`,
    ),
    rewind: c.prepare(`DELETE FROM step_blocks WHERE run_id = ? AND end_step >= ? RETURNING ${COLS}`),
    deleteRun: c.prepare('DELETE FROM step_blocks WHERE run_id = ?'),
  };
}

/** The step index's blocks on SQLite: queries only. Unindexed tail rows are read here too. */
export class StepBlocksRepo implements StepBlocksSource {
  private readonly s: ReturnType<typeof statements>;

  constructor(db: Db) {
    this.s = statements(db.$client);
  }

  insert(runId: number, b: StepBlock): void {
    this.s.insert.run({ ...b, run: runId });
  }

  async blockPage(runId: number, axis: StepAxis, from: number, to: number, after: number | null, desc: boolean, limit: number): Promise<StepBlock[]> {
    const edge = after ?? (desc ? Infinity : -Infinity);
    return (desc ? this.s.desc : this.s.asc)[axis].all({ run: runId, from, to, after: edge, limit }) as StepBlock[];
  }

  async tailIndex(runId: number, axis: StepAxis, from: number, to: number): Promise<StepIndexRow[]> {
    return this.s.tail[axis].all(runId, from, to) as StepIndexRow[];
  }

  ends(runId: number): StepRange {
    return this.s.ends.get({ run: runId }) as StepRange;
  }

  count(runId: number): number {
    return (this.s.count.get({ run: runId }) as { n: number }).n;
  }

  /** Deletes the blocks from `step` on, and those that straddle it, which it returns to trim. */
  rewind(runId: number, step: number): StepBlock[] {
    return (this.s.rewind.all(runId, step) as StepBlock[]).filter((b) => b.startStep < step);
  }

  deleteRun(runId: number): void {
    this.s.deleteRun.run(runId);
  }
}
