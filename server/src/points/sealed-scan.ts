import { type Bucketizer, valueOfKind } from './buckets.js';
import { ROLLUP_LEVELS } from './chunk-writer.js';
import { type ChunkBlobs, decodeSteps, decodeVals } from './chunk-codec.js';
import type { ChunkSummaryRow, RollupRow } from './points.repo.js';

/**
 * What the sealed scan reads, synchronously: SQLite's prepared statements, or (PostgreSQL) rows
 * fetched beforehand in a few batched queries. `chunkData` may answer undefined when the data
 * is not at hand yet: the scan then skips the chunk (a planning pass, see pg-point-reader.ts).
 */
export interface SealedSource {
  rollups(seriesId: number, level: number, wLo: number, wHi: number, lo: number, hi: number): RollupRow[];
  chunksByStart(seriesId: number, startLo: number, startHi: number, lo: number, hi: number): ChunkSummaryRow[];
  chunkStartAtOrBefore(seriesId: number, step: number): number | null;
  /**
   * The data of consecutive chunks of a series, by their starts (ascending), in that order: one
   * range read on SQLite, where a read per chunk cost about twice as much per row.
   */
  chunkDataOf(seriesId: number, starts: readonly number[]): Array<ChunkBlobs | undefined>;
}

/**
 * Sealed points of a series into the buckets, coarsest summaries first: a rollup window or a
 * chunk that fits a bucket is merged whole; one cut by a bucket edge is opened one level down.
 * Only the chunks at the ends of the range are read point by point.
 */
export function scanSealed(src: SealedSource, seriesId: number, b: Bucketizer): void {
  const first = ROLLUP_LEVELS.findIndex((l) => l.size < b.width);
  if (first >= 0) return scanLevel(src, seriesId, b, first, 0, b.hi);
  const start = src.chunkStartAtOrBefore(seriesId, b.lo) ?? b.lo;
  scanChunks(src, seriesId, b, src.chunksByStart(seriesId, start, b.hi, b.lo, b.hi));
}

function scanLevel(src: SealedSource, seriesId: number, b: Bucketizer, li: number, startLo: number, startHi: number): void {
  const lvl = ROLLUP_LEVELS[li];
  if (!lvl) {
    scanChunks(src, seriesId, b, src.chunksByStart(seriesId, startLo, startHi, b.lo, b.hi));
    return;
  }
  const rows = src.rollups(seriesId, lvl.level, Math.floor(startLo / lvl.size), Math.floor(startHi / lvl.size), b.lo, b.hi);
  for (const r of rows) {
    if (!mergeIfWhole(b, r)) {
      const ws = r.window * lvl.size;
      scanLevel(src, seriesId, b, li + 1, Math.max(startLo, ws), Math.min(startHi, ws + lvl.size - 1));
    }
  }
}

function scanChunks(src: SealedSource, seriesId: number, b: Bucketizer, chunks: ChunkSummaryRow[]): void {
  let i = 0;
  while (i < chunks.length) {
    if (mergeIfWhole(b, chunks[i] as ChunkSummaryRow)) {
      i++;
      continue;
    }
    // A run of chunks cut by bucket edges (every chunk, when buckets are narrower): read at once.
    let j = i + 1;
    while (j < chunks.length && !goesWhole(b, chunks[j] as ChunkSummaryRow)) j++;
    const run = chunks.slice(i, j);
    const data = src.chunkDataOf(seriesId, run.map((c) => c.startStep));
    run.forEach((c, k) => {
      const d = data[k];
      if (!d) return;
      const vals = decodeVals(d.vals, c.count);
      // Steps strictly increase: a chunk with as many points as steps holds every step.
      if (c.endStep - c.startStep + 1 === c.count) {
        for (let n = 0; n < vals.length; n++) b.add(c.startStep + n, vals[n] as number);
        return;
      }
      const steps = decodeSteps(d.steps, c.count);
      for (let n = 0; n < steps.length; n++) b.add(steps[n] as number, vals[n] as number);
    });
    i = j;
  }
}

/** A summary that fits one bucket, or is no wider than one (see Bucketizer), goes in whole. */
const goesWhole = (b: Bucketizer, c: ChunkSummaryRow): boolean => b.fitsWhole(c.startStep, c.endStep) || b.absorbs(c.startStep, c.endStep);

function mergeIfWhole(b: Bucketizer, c: ChunkSummaryRow): boolean {
  if (!goesWhole(b, c)) return false;
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
