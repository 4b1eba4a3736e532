import { CHUNK_ROWS, ROLLUP_LEVELS } from './chunk-writer.js';
import { encodeSteps, encodeVals } from './chunk-codec.js';
import { holdSparse, keptBefore, splitRows, summarize } from './chunk-build.js';
import type { ChunkInsert } from './points.repo.js';
import type { ChunkWrite, PgPointsRepo, RollupWrite } from './pg-points.repo.js';
import type { PgStepBlocksRepo } from './pg-step-blocks.repo.js';
import { blockBefore, blockOfTail, type StepBlock, type TailEntry } from './step-index.js';

/** A later contribution to the same rollup window, merged as the SQL upsert merges it. */
function mergeRollup(into: RollupWrite, c: ChunkInsert): void {
  into.startStep = Math.min(into.startStep, c.startStep);
  if (c.endStep >= into.endStep) {
    into.last = c.last;
    into.lastKind = c.lastKind;
  }
  into.endStep = Math.max(into.endStep, c.endStep);
  into.count += c.count;
  if (c.min !== null && (into.min === null || c.min < into.min)) into.min = c.min;
  if (c.max !== null && (into.max === null || c.max > into.max)) into.max = c.max;
  into.nan += c.nan;
  into.posInf += c.posInf;
  into.negInf += c.negInf;
}

/**
 * The chunks and step blocks sealed during one write (one ingest message, or a long import that
 * seals many times): built in memory from tail rows the store already holds, written in one
 * statement each. Rollup contributions are merged per window first, since one upsert statement
 * may not touch a row twice.
 */
export class SealBatch {
  readonly chunks: ChunkWrite[] = [];
  private readonly blocks: StepBlock[] = [];
  private readonly rollups = new Map<string, RollupWrite>();

  /**
   * Seals the rows but for sparse series (holdSparse), whose rows it returns, to stay in the
   * tail; the steps no block indexes yet go into a new one.
   */
  seal(rows: readonly TailEntry[], seriesBySlot: ReadonlyMap<number, number>): TailEntry[] {
    const block = blockOfTail(rows);
    if (block) this.blocks.push(block);
    const { seal, kept } = holdSparse(splitRows(rows, seriesBySlot), CHUNK_ROWS);
    for (const s of seal) {
      const summary = summarize(s.seriesId, s.steps, s.vals);
      this.chunks.push({ summary, steps: encodeSteps(s.steps), vals: encodeVals(s.vals) });
      for (const l of ROLLUP_LEVELS) {
        const window = Math.floor(summary.startStep / l.size);
        const key = `${s.seriesId}:${l.level}:${window}`;
        const r = this.rollups.get(key);
        if (r) mergeRollup(r, summary);
        else this.rollups.set(key, { ...summary, level: l.level, window });
      }
    }
    return kept;
  }

  async write(repo: PgPointsRepo, steps: PgStepBlocksRepo, runId: number): Promise<void> {
    await Promise.all([repo.insertChunks(this.chunks, [...this.rollups.values()]), steps.insert(runId, this.blocks)]);
  }
}

/** Deletes everything at or after `step`, trimming chunks that straddle it, and rebuilds their rollups. */
export async function rewindPg(repo: PgPointsRepo, steps: PgStepBlocksRepo, runId: number, step: number): Promise<void> {
  const cut = await steps.rewind(runId, step);
  await steps.insert(runId, cut.map((b) => blockBefore(b, step)).filter((b): b is StepBlock => b !== null));
  const straddling = await repo.rewind(runId, step);
  await repo.deleteChunks(straddling.map((c) => c.seriesId), straddling.map((c) => c.startStep));
  const kept: ChunkWrite[] = [];
  for (const c of straddling) {
    const k = keptBefore(c, step);
    if (k) kept.push({ summary: summarize(k.seriesId, k.steps, k.vals), steps: encodeSteps(k.steps), vals: encodeVals(k.vals) });
  }
  await repo.insertChunks(kept, []);
  // A trimmed chunk counts in the windows of its start, maybe before the one holding `step`.
  const from = straddling.reduce((m, c) => Math.min(m, c.startStep), step);
  for (const l of ROLLUP_LEVELS) await repo.rebuildRollupsFrom(runId, l.level, l.size, Math.floor(from / l.size));
}
