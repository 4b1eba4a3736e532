import type { Bucket, SeriesInfo } from '@gradwatch/shared';
import { Bucketizer, valueOfKind } from './buckets.js';
import { ROLLUP_LEVELS } from './chunk-writer.js';
import { decodeSteps } from './chunk-codec.js';
import { f64View, readSlot } from './packed.js';
import type { ChunkSummaryRow, PointsRepo, SeriesRow } from './points.repo.js';

export interface SeriesQueryResult {
  name: string;
  firstNonFiniteStep: number | null;
  buckets: Bucket[];
}

export const isEvalSeries = (name: string): boolean => name.startsWith('eval/');

/**
 * Reads of the point store: packed tail rows for the newest steps, sealed per-series chunks
 * and their rollups for the rest, a narrow table for eval metrics — seen as one ordered stream
 * per series.
 */
export class PointReader {
  constructor(private readonly repo: PointsRepo) {}

  query(runId: number, series: SeriesRow[], lo: number, hi: number, maxPoints: number): SeriesQueryResult[] {
    const stream = series.filter((s) => !isEvalSeries(s.name));
    const sizers = new Map<number, Bucketizer>();
    const results = series.map((s) => {
      const b = new Bucketizer(lo, hi, maxPoints);
      sizers.set(s.id, b);
      if (isEvalSeries(s.name)) for (const p of this.repo.evalPoints(s.id, lo, hi)) b.add(p.step, p.value);
      else this.scanSealed(s.id, b);
      return { s, b };
    });
    if (stream.length > 0) {
      // One pass over the tail serves every requested series; tail steps follow all chunks.
      for (const row of this.repo.tailRows(runId, lo, hi)) {
        const f = f64View(row.vals);
        for (const s of stream) {
          const v = readSlot(f, s.slot);
          if (v !== undefined) sizers.get(s.id)?.add(row.step, v);
        }
      }
    }
    return results.map(({ s, b }) => ({ name: s.name, firstNonFiniteStep: s.firstNonFiniteStep, buckets: b.finish() }));
  }

  /**
   * Sealed points of a series into the buckets, coarsest summaries first: a rollup window or a
   * chunk that fits a bucket is merged whole; one cut by a bucket edge is opened one level down.
   * Only the chunks at the ends of the range are read point by point.
   */
  private scanSealed(seriesId: number, b: Bucketizer): void {
    const first = ROLLUP_LEVELS.findIndex((l) => l.size < b.width);
    if (first >= 0) return this.scanLevel(seriesId, b, first, 0, b.hi);
    const start = this.repo.chunkStartAtOrBefore(seriesId, b.lo) ?? b.lo;
    this.scanChunks(seriesId, b, this.repo.chunksByStart(seriesId, start, b.hi, b.lo, b.hi));
  }

  private scanLevel(seriesId: number, b: Bucketizer, li: number, startLo: number, startHi: number): void {
    const lvl = ROLLUP_LEVELS[li];
    if (!lvl) {
      this.scanChunks(seriesId, b, this.repo.chunksByStart(seriesId, startLo, startHi, b.lo, b.hi));
      return;
    }
    const rows = this.repo.rollups(seriesId, lvl.level, Math.floor(startLo / lvl.size), Math.floor(startHi / lvl.size), b.lo, b.hi);
    for (const r of rows) {
      if (!this.mergeIfWhole(b, r)) {
        const ws = r.window * lvl.size;
        this.scanLevel(seriesId, b, li + 1, Math.max(startLo, ws), Math.min(startHi, ws + lvl.size - 1));
      }
    }
  }

  private scanChunks(seriesId: number, b: Bucketizer, chunks: ChunkSummaryRow[]): void {
    for (const c of chunks) {
      if (this.mergeIfWhole(b, c)) continue;
      const d = this.repo.chunkData(seriesId, c.startStep);
      const steps = decodeSteps(d.steps, c.count);
      const vals = f64View(d.vals);
      for (let i = 0; i < steps.length; i++) b.add(steps[i] as number, vals[i] as number);
    }
  }

  /** Merges a summary whole when it fits one bucket, or is no wider than one (see Bucketizer). */
  private mergeIfWhole(b: Bucketizer, c: ChunkSummaryRow): boolean {
    if (!b.fitsWhole(c.startStep, c.endStep) && !b.absorbs(c.startStep, c.endStep)) return false;
    b.mergeWhole({
      fromStep: c.startStep,
      toStep: c.endStep,
      count: c.count,
      min: c.min,
      max: c.max,
      last: valueOfKind(c.lastKind, c.last),
      nan: c.nan,
      posInf: c.posInf,
      negInf: c.negInf,
    });
    return true;
  }

  /**
   * Every point of one series at full resolution, in step order. Read lazily, so ingest may seal
   * the tail into a chunk meanwhile: chunks sealed since the start are read before the tail.
   */
  *points(runId: number, s: SeriesRow): Generator<[number, number]> {
    const all = Number.MAX_SAFE_INTEGER;
    if (isEvalSeries(s.name)) {
      for (const p of this.repo.evalPoints(s.id, 0, all)) yield [p.step, p.value];
      return;
    }
    let next = 0;
    for (let round = 0; round < 2; round++) {
      for (const c of this.repo.chunksByStart(s.id, next, all, next, all)) {
        const d = this.repo.chunkData(s.id, c.startStep);
        const steps = decodeSteps(d.steps, c.count);
        const vals = f64View(d.vals);
        for (let i = 0; i < steps.length; i++) yield [steps[i] as number, vals[i] as number];
        next = c.endStep + 1;
      }
    }
    for (const row of this.repo.tailRows(runId, next, all)) {
      const v = readSlot(f64View(row.vals), s.slot);
      if (v !== undefined) yield [row.step, v];
    }
  }

  seriesInfo(runId: number, series: SeriesRow[]): SeriesInfo[] {
    const totals = new Map<number, { n: number; first: number; last: number }>();
    for (const t of [...this.repo.chunkTotals(runId), ...this.repo.evalTotals(runId)]) totals.set(t.id, t);
    const bySlot = new Map(series.filter((s) => !isEvalSeries(s.name)).map((s) => [s.slot, s]));
    for (const row of this.repo.tailRows(runId, 0, Number.MAX_SAFE_INTEGER)) {
      const f = f64View(row.vals);
      for (const [slot, s] of bySlot) {
        if (readSlot(f, slot) === undefined) continue;
        const t = totals.get(s.id);
        if (t) {
          t.n++;
          t.last = row.step;
        } else totals.set(s.id, { n: 1, first: row.step, last: row.step });
      }
    }
    return series.map((s) => {
      const t = totals.get(s.id);
      return { name: s.name, count: t?.n ?? 0, firstStep: t?.first ?? null, lastStep: t?.last ?? null, firstNonFiniteStep: s.firstNonFiniteStep };
    });
  }
}
