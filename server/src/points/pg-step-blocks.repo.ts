import type { PgDb } from '../storage/pg.js';
import { byteaArray } from '../storage/pg-sql.js';
import type { StepRange } from './step-range.js';
import type { StepIndexRow } from './step-block-codec.js';
import type { StepAxis, StepBlock, StepBlocksSource } from './step-index.js';

const col = <K extends keyof StepBlock>(rows: readonly StepBlock[], k: K): Array<StepBlock[K]> => rows.map((r) => r[k]);

/** The step index's blocks on PostgreSQL: queries only, on `db.q()` (the caller's transaction, if any). */
export class PgStepBlocksRepo implements StepBlocksSource {
  constructor(private readonly db: PgDb) {}

  private get q() {
    return this.db.q();
  }

  /** Where a block may hold a step whose axis value is in [from, to]. */
  private overlaps(axis: StepAxis, from: number, to: number) {
    const q = this.q;
    if (axis === 'step') return q`end_step >= ${from} AND start_step <= ${to}`;
    return axis === 'time' ? q`time_hi >= ${from} AND time_lo <= ${to}` : q`epoch_hi >= ${from} AND epoch_lo <= ${to}`;
  }

  async insert(runId: number, blocks: readonly StepBlock[]): Promise<void> {
    if (blocks.length === 0) return;
    await this.q`
      INSERT INTO step_blocks (run_id, start_step, end_step, count, time_lo, time_hi, epoch_lo, epoch_hi, data)
      SELECT ${runId}, * FROM unnest(${col(blocks, 'startStep')}::int8[], ${col(blocks, 'endStep')}::int8[], ${col(blocks, 'count')}::int[],
        ${col(blocks, 'timeLo')}::float8[], ${col(blocks, 'timeHi')}::float8[], ${col(blocks, 'epochLo')}::float8[],
        ${col(blocks, 'epochHi')}::float8[], ${byteaArray(col(blocks, 'data'))}::bytea[])`;
  }

  async blockPage(runId: number, axis: StepAxis, from: number, to: number, after: number | null, desc: boolean, limit: number): Promise<StepBlock[]> {
    const q = this.q;
    const edge = after === null ? q`TRUE` : desc ? q`start_step < ${after}` : q`start_step > ${after}`;
    return q<StepBlock[]>`
      SELECT start_step, end_step, count, time_lo, time_hi, epoch_lo, epoch_hi, data FROM step_blocks
      WHERE run_id = ${runId} AND ${this.overlaps(axis, from, to)} AND ${edge}
      ORDER BY start_step ${desc ? q`DESC` : q``} LIMIT ${limit}`;
  }

  async tailIndex(runId: number, axis: StepAxis, from: number, to: number): Promise<StepIndexRow[]> {
    return this.q<StepIndexRow[]>`
      SELECT step, time, epoch, examples FROM step_tail
      WHERE run_id = ${runId} AND indexed = 0 AND ${this.q(axis)} BETWEEN ${from} AND ${to} ORDER BY step`;
  }

  /** Tail rows a block indexes lie inside its range, so every tail row may count. */
  async ends(runId: number): Promise<StepRange> {
    const [r] = await this.q<StepRange[]>`
      SELECT least((SELECT min(start_step) FROM step_blocks WHERE run_id = ${runId}), (SELECT min(step) FROM step_tail WHERE run_id = ${runId})) AS lo,
        greatest((SELECT max(end_step) FROM step_blocks WHERE run_id = ${runId}), (SELECT max(step) FROM step_tail WHERE run_id = ${runId})) AS hi`;
    return r ?? { lo: null, hi: null };
  }

  async count(runId: number): Promise<number> {
    const [r] = await this.q<Array<{ n: number }>>`
      SELECT ((SELECT coalesce(sum(count), 0) FROM step_blocks WHERE run_id = ${runId})
        + (SELECT count(*) FROM step_tail WHERE run_id = ${runId} AND indexed = 0))::int8 AS n`;
    return r?.n ?? 0;
  }

  /** Deletes the blocks from `step` on, and those that straddle it, which it returns to trim. */
  async rewind(runId: number, step: number): Promise<StepBlock[]> {
    return this.q<StepBlock[]>`
      DELETE FROM step_blocks WHERE run_id = ${runId} AND end_step >= ${step}
      RETURNING start_step, end_step, count, time_lo, time_hi, epoch_lo, epoch_hi, data`.then((rows) => rows.filter((b) => b.startStep < step));
  }
}
