import { decodeStepBlock, encodeStepBlock, type StepIndexRow, type TailEntry } from './step-block-codec.js';
import { unionRange, type StepRange } from './step-range.js';

export type { StepIndexRow, TailEntry } from './step-block-codec.js';

/** A block of the step index as stored. */
export interface StepBlock {
  startStep: number;
  endStep: number;
  count: number;
  timeLo: number | null;
  timeHi: number | null;
  epochLo: number | null;
  epochHi: number | null;
  data: Buffer;
}

/** The x axes a block can be searched by. */
export type StepAxis = 'step' | 'time' | 'epoch';

/** What the step index reads, on either backend. */
export interface StepBlocksSource {
  /**
   * Up to `limit` blocks of a run that may hold a step whose `axis` value is in [from, to], by
   * start step ascending (after `after`) or descending (before it).
   */
  blockPage(runId: number, axis: StepAxis, from: number, to: number, after: number | null, desc: boolean, limit: number): Promise<StepBlock[]>;
  /** The run's tail steps not in a block yet whose `axis` value is in [from, to], in step order. */
  tailIndex(runId: number, axis: StepAxis, from: number, to: number): Promise<StepIndexRow[]>;
}

const PAGE = 16;

const bounds = (vals: ReadonlyArray<number | null>): [number | null, number | null] => {
  let lo: number | null = null;
  let hi: number | null = null;
  for (const v of vals) {
    if (v === null) continue;
    if (lo === null || v < lo) lo = v;
    if (hi === null || v > hi) hi = v;
  }
  return [lo, hi];
};

/** The block of a seal's newly indexed steps (in step order, at least one). */
export function stepBlockOf(rows: readonly StepIndexRow[]): StepBlock {
  const [timeLo, timeHi] = bounds(rows.map((r) => r.time));
  const [epochLo, epochHi] = bounds(rows.map((r) => r.epoch));
  const first = rows[0] as StepIndexRow;
  const last = rows[rows.length - 1] as StepIndexRow;
  return { startStep: first.step, endStep: last.step, count: rows.length, timeLo, timeHi, epochLo, epochHi, data: encodeStepBlock(rows) };
}

/** The tail rows a seal indexes (those no block holds yet) as one block, or null if none. */
export function blockOfTail(rows: readonly TailEntry[]): StepBlock | null {
  const fresh = rows.filter((r) => !r.indexed);
  return fresh.length ? stepBlockOf(fresh) : null;
}

/** What stays of a block cut by a rewind to `step` (its steps before it), or null if none. */
export function blockBefore(b: StepBlock, step: number): StepBlock | null {
  const kept = decodeStepBlock(b.data, b.count).filter((r) => r.step < step);
  return kept.length ? stepBlockOf(kept) : null;
}

/**
 * Reads of the step index shared by both backends: blocks hold the sealed steps, the tail the
 * newer ones, and every block comes before every unindexed tail step.
 */
export class StepIndex {
  constructor(private readonly src: StepBlocksSource) {}

  private async *blocks(runId: number, axis: StepAxis, from: number, to: number, desc: boolean): AsyncGenerator<StepIndexRow[]> {
    let after: number | null = null;
    for (;;) {
      const page = await this.src.blockPage(runId, axis, from, to, after, desc, PAGE);
      for (const b of page) yield decodeStepBlock(b.data, b.count);
      if (page.length < PAGE) return;
      after = (page[page.length - 1] as StepBlock).startStep;
    }
  }

  /**
   * The first and last step whose time (or epoch) is in [from, to]. The tail is read first: a
   * seal committed between the reads (PostgreSQL: each read is its own statement) then puts its
   * steps in both answers, never in neither; min and max do not mind a step seen twice.
   */
  async stepRangeFor(runId: number, x: 'time' | 'epoch', from: number, to: number): Promise<StepRange> {
    const tail = await this.src.tailIndex(runId, x, from, to);
    const inside = (r: StepIndexRow): boolean => {
      const v = r[x];
      return v !== null && v >= from && v <= to;
    };
    let lo: number | null = null;
    let hi: number | null = null;
    // A block's range says it may hold such a step: the first (last) one that does has the answer.
    for await (const rows of this.blocks(runId, x, from, to, false)) {
      const r = rows.find(inside);
      if (r) {
        lo = r.step;
        break;
      }
    }
    for await (const rows of this.blocks(runId, x, from, to, true)) {
      const r = rows.findLast(inside);
      if (r) {
        hi = r.step;
        break;
      }
    }
    return unionRange({ lo, hi }, { lo: tail[0]?.step ?? null, hi: tail[tail.length - 1]?.step ?? null });
  }

  /**
   * Up to `limit` steps in [lo, hi] with their time and epoch, in step order. The tail is read
   * first, as in stepRangeFor; its steps a block holds by the time the blocks are read are left out.
   */
  async stepTimes(runId: number, lo: number, hi: number, limit: number): Promise<Array<{ step: number; time: number | null; epoch: number | null }>> {
    const tail = await this.src.tailIndex(runId, 'step', lo, hi);
    const out: Array<{ step: number; time: number | null; epoch: number | null }> = [];
    let covered = -Infinity;
    const take = (rows: readonly StepIndexRow[]): boolean => {
      for (const r of rows) {
        if (r.step < lo || r.step > hi || r.step <= covered) continue;
        if (out.length >= limit) return false;
        out.push({ step: r.step, time: r.time, epoch: r.epoch });
      }
      return out.length < limit;
    };
    for await (const rows of this.blocks(runId, 'step', lo, hi, false)) {
      if (!take(rows)) return out;
      covered = Math.max(covered, (rows[rows.length - 1] as StepIndexRow).step);
    }
    take(tail);
    return out;
  }
}
