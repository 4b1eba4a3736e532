import { Envelope, kindOf } from './buckets.js';
import { decodeSteps, encodeSteps } from './chunk-codec.js';
import { f64Buffer, f64View, readSlot } from './packed.js';
import type { ChunkInsert, PointsRepo } from './points.repo.js';

/** Tail rows per run sealed into one chunk per series. */
export const CHUNK_ROWS = 128;

/** Rollup levels, coarsest first: aligned windows of steps summarising the chunks starting in them. */
export const ROLLUP_LEVELS = [
  { level: 2, size: 131_072 },
  { level: 1, size: 4_096 },
] as const;

/**
 * The sealed side of the point store: moves a run's packed tail rows into per-series chunks,
 * keeps the rollup windows over them, and trims them on a rewind. Runs inside the ingest
 * transaction.
 */
export class ChunkWriter {
  constructor(private readonly repo: PointsRepo) {}

  /** Moves a run's tail rows into per-series chunks. */
  seal(runId: number, seriesBySlot: ReadonlyMap<number, number>): void {
    const rows = this.repo.tailRows(runId, 0, Number.MAX_SAFE_INTEGER);
    if (rows.length === 0) return;
    const bySlot = new Map<number, { steps: number[]; vals: number[] }>();
    for (const r of rows) {
      const f = f64View(r.vals);
      for (let slot = 0; slot < f.length; slot++) {
        const v = readSlot(f, slot);
        if (v === undefined) continue;
        let s = bySlot.get(slot);
        if (!s) bySlot.set(slot, (s = { steps: [], vals: [] }));
        s.steps.push(r.step);
        s.vals.push(v);
      }
    }
    for (const [slot, s] of bySlot) {
      const seriesId = seriesBySlot.get(slot);
      if (seriesId !== undefined) this.writeChunk(seriesId, s.steps, s.vals);
    }
    this.repo.deleteTail(runId);
  }

  private writeChunk(seriesId: number, steps: number[], vals: number[], rollUp = true): void {
    const env = new Envelope();
    for (let i = 0; i < steps.length; i++) env.add(steps[i] as number, vals[i] as number);
    const summary: ChunkInsert = {
      seriesId,
      startStep: env.fromStep,
      endStep: env.toStep,
      count: env.count,
      min: env.finiteMin,
      max: env.finiteMax,
      last: Number.isFinite(env.last) ? env.last : null,
      lastKind: kindOf(env.last),
      nan: env.nan,
      posInf: env.posInf,
      negInf: env.negInf,
    };
    this.repo.insertChunk(summary, encodeSteps(steps), f64Buffer(vals));
    if (rollUp) for (const l of ROLLUP_LEVELS) this.repo.upsertRollup(l.level, Math.floor(env.fromStep / l.size), summary);
  }

  /** Deletes everything at or after `step`, trimming chunks that straddle it, and their rollups. */
  rewind(runId: number, step: number): void {
    for (const c of this.repo.rewind(runId, step)) {
      const steps = Array.from(decodeSteps(c.steps, c.count));
      const vals = Array.from(f64View(c.vals));
      const keep = steps.findIndex((s) => s >= step);
      this.repo.deleteChunk(c.seriesId, c.startStep);
      if (keep > 0) this.writeChunk(c.seriesId, steps.slice(0, keep), vals.slice(0, keep), false);
    }
    // A trimmed chunk starts before `step`, so windows from the one holding `step` are rebuilt.
    for (const l of ROLLUP_LEVELS) this.repo.rebuildRollupsFrom(runId, l.level, l.size, Math.floor(step / l.size));
  }
}
