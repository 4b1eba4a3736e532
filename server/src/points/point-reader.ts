import type { Bucket, SeriesInfo } from '@gradwatch/shared';
import { Bucketizer } from './buckets.js';
import { decodeSteps, decodeVals } from './chunk-codec.js';
import { f64View, readSlot } from './packed.js';
import type { PointsRepo, SeriesRow } from './points.repo.js';
import { scanSealed } from './sealed-scan.js';
import { bucketTail, isEvalSeries, seriesInfoOf } from './tail-merge.js';

export interface SeriesQueryResult {
  name: string;
  firstNonFiniteStep: number | null;
  buckets: Bucket[];
}

export { isEvalSeries };

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
      else scanSealed(this.repo, s.id, b);
      return { s, b };
    });
    if (stream.length > 0) bucketTail(this.repo.tailRows(runId, lo, hi), stream, sizers);
    return results.map(({ s, b }) => ({ name: s.name, firstNonFiniteStep: s.firstNonFiniteStep, buckets: b.finish() }));
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
        const vals = decodeVals(d.vals, c.count);
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
    const totals = [...this.repo.chunkTotals(runId), ...this.repo.evalTotals(runId)];
    return seriesInfoOf(series, totals, this.repo.tailRows(runId, 0, Number.MAX_SAFE_INTEGER));
  }
}
