import { encodeSteps, encodeVals } from './chunk-codec.js';
import { holdSparse, keptBefore, splitRows, summarize } from './chunk-build.js';
import type { PointsRepo } from './points.repo.js';
import { blockBefore, blockOfTail, type TailEntry } from './step-index.js';
import type { StepBlocksRepo } from './step-blocks.repo.js';

/** Tail rows per run sealed into one chunk per series. */
export const CHUNK_ROWS = 128;

/**
 * Where a run's first seal comes: after CHUNK_ROWS rows plus an offset of its own below
 * CHUNK_ROWS, spread by the golden ratio over run ids. A sweep of jobs started together and
 * logging at one rate would otherwise seal all at once, every CHUNK_ROWS steps, in one
 * transaction: a stall of every job's acks. Offset, their seals stay apart from then on.
 */
export function firstSealAt(runId: number): number {
  return CHUNK_ROWS + Math.floor(((runId * 0.6180339887498949) % 1) * CHUNK_ROWS);
}

/**
 * Rollup levels, coarsest first: aligned windows of steps summarising the chunks starting in them.
 * A query reads the coarsest level narrower than its buckets, so up to size-ratio rows a bucket;
 * level 3 came later (migration 0007), which is why the numbers are not in order.
 */
export const ROLLUP_LEVELS = [
  { level: 2, size: 131_072 },
  { level: 1, size: 4_096 },
  { level: 3, size: 1_024 },
] as const;

/**
 * The sealed side of the point store: moves a run's packed tail rows into per-series chunks and
 * their index entries into a step block, keeps the rollup windows over the chunks, and trims
 * both on a rewind. Runs inside the ingest transaction.
 */
export class ChunkWriter {
  constructor(
    private readonly repo: PointsRepo,
    private readonly steps: StepBlocksRepo,
  ) {}

  /**
   * Seals a run's tail rows into per-series chunks but for sparse series (holdSparse), whose rows
   * it returns to stay in the tail; the steps no block indexes yet go into a new one. The tail
   * table is the caller's: it may hold some of these rows, or none.
   */
  seal(runId: number, rows: readonly TailEntry[], seriesBySlot: ReadonlyMap<number, number>): TailEntry[] {
    const { seal, kept } = holdSparse(splitRows(rows, seriesBySlot), CHUNK_ROWS);
    for (const s of seal) this.writeChunk(s.seriesId, s.steps, s.vals);
    const block = blockOfTail(rows);
    if (block) this.steps.insert(runId, block);
    return kept;
  }

  private writeChunk(seriesId: number, steps: number[], vals: number[], rollUp = true): void {
    const summary = summarize(seriesId, steps, vals);
    this.repo.insertChunk(summary, encodeSteps(steps), encodeVals(vals));
    if (rollUp) for (const l of ROLLUP_LEVELS) this.repo.upsertRollup(l.level, Math.floor(summary.startStep / l.size), summary);
  }

  /** Deletes everything at or after `step`, trimming chunks that straddle it, and their rollups. */
  rewind(runId: number, step: number): void {
    for (const b of this.steps.rewind(runId, step)) {
      const kept = blockBefore(b, step);
      if (kept) this.steps.insert(runId, kept);
    }
    let from = step;
    for (const c of this.repo.rewind(runId, step)) {
      const kept = keptBefore(c, step);
      this.repo.deleteChunk(c.seriesId, c.startStep);
      if (kept) this.writeChunk(c.seriesId, kept.steps, kept.vals, false);
      from = Math.min(from, c.startStep);
    }
    // A trimmed chunk counts in the windows of its start, which may come before the one holding
    // `step` (sparse steps): windows are rebuilt from the earliest of them.
    for (const l of ROLLUP_LEVELS) this.repo.rebuildRollupsFrom(runId, l.level, l.size, Math.floor(from / l.size));
  }
}

