import type { SeriesInfo } from '@gradwatch/shared';
import { Bucketizer } from './buckets.js';
import { ROLLUP_LEVELS } from './chunk-writer.js';
import { type ChunkBlobs, decodeSteps, decodeVals } from './chunk-codec.js';
import { f64View, readSlot } from './packed.js';
import type { SeriesQueryResult } from './point-reader.js';
import type { ChunkSummaryRow, RollupRow, SeriesRow } from './points.repo.js';
import type { PgPointsRepo } from './pg-points.repo.js';
import { decodeChunkSummaries, decodeRollups } from './pg-summary-codec.js';
import { scanSealed, type SealedSource } from './sealed-scan.js';
import { bucketTail, isEvalSeries, seriesInfoOf } from './tail-merge.js';

const COARSEST = ROLLUP_LEVELS[0];

/** Chunks with their data per page of points(): a few hundred KB a round trip. */
const POINTS_PAGE = 256;

/**
 * The sealed scan's reads over rows fetched beforehand. A pass of the scan over all series
 * answers from what is at hand and notes what it lacked; the reader then fetches all of that
 * in one query per kind and runs the pass again. The scan only goes one level deeper per pass,
 * so a query costs a few round trips (levels + chunk data), whatever the number of series.
 */
class Prefetched implements SealedSource {
  readonly rollupRows = new Map<string, RollupRow[]>();
  readonly chunkRows = new Map<string, ChunkSummaryRow[]>();
  readonly starts = new Map<number, number | null>();
  readonly data = new Map<string, ChunkBlobs>();
  missRollups = new Map<string, { sid: number; level: number; wLo: number; wHi: number }>();
  missChunks = new Map<string, { sid: number; sLo: number; sHi: number }>();
  missStarts = new Set<number>();
  missData = new Map<string, { sid: number; start: number }>();

  get complete(): boolean {
    return this.missRollups.size + this.missChunks.size + this.missStarts.size + this.missData.size === 0;
  }

  rollups(sid: number, level: number, wLo: number, wHi: number): RollupRow[] {
    const key = `${sid}:${level}:${wLo}:${wHi}`;
    const got = this.rollupRows.get(key);
    if (!got) this.missRollups.set(key, { sid, level, wLo, wHi });
    return got ?? [];
  }

  chunksByStart(sid: number, sLo: number, sHi: number): ChunkSummaryRow[] {
    const key = `${sid}:${sLo}:${sHi}`;
    const got = this.chunkRows.get(key);
    // A scan from a start not known yet: that fetch brings these chunks along.
    if (!got && !this.missStarts.has(sid)) this.missChunks.set(key, { sid, sLo, sHi });
    return got ?? [];
  }

  chunkStartAtOrBefore(sid: number): number | null {
    if (!this.starts.has(sid)) this.missStarts.add(sid);
    return this.starts.get(sid) ?? null;
  }

  chunkDataOf(sid: number, starts: readonly number[]): Array<ChunkBlobs | undefined> {
    return starts.map((s) => this.chunkData(sid, s));
  }

  chunkData(sid: number, start: number): ChunkBlobs | undefined {
    const key = `${sid}:${start}`;
    const got = this.data.get(key);
    if (!got) this.missData.set(key, { sid, start });
    return got;
  }

  /** Fetches what the last pass lacked; the fetches are independent of each other. */
  async fetch(repo: PgPointsRepo, lo: number, hi: number): Promise<void> {
    const rq = [...this.missRollups.entries()];
    const cq = [...this.missChunks.entries()];
    const sq = [...this.missStarts];
    const dq = [...this.missData.values()];
    this.missRollups = new Map();
    this.missChunks = new Map();
    this.missStarts = new Set();
    this.missData = new Map();
    const jobs: Array<Promise<void>> = [];
    if (rq.length) {
      jobs.push(repo.rollupsBatch(rq.map(([, r]) => r.sid), rq.map(([, r]) => r.level), rq.map(([, r]) => r.wLo), rq.map(([, r]) => r.wHi), lo, hi).then((rows) => {
        for (const r of rows) this.rollupRows.set((rq[r.i] as [string, unknown])[0], decodeRollups(r.blob));
      }));
    }
    if (cq.length) {
      jobs.push(repo.chunksBatch(cq.map(([, c]) => c.sid), cq.map(([, c]) => c.sLo), cq.map(([, c]) => c.sHi), lo, hi).then((rows) => {
        for (const r of rows) this.chunkRows.set((cq[r.i] as [string, unknown])[0], decodeChunkSummaries(r.blob));
      }));
    }
    if (sq.length) {
      jobs.push(repo.chunksFromStart(sq, lo, hi).then((rows) => {
        for (const r of rows) {
          this.starts.set(r.sid, r.start);
          this.chunkRows.set(`${r.sid}:${r.start ?? lo}:${hi}`, decodeChunkSummaries(r.blob));
        }
      }));
    }
    if (dq.length) {
      jobs.push(repo.chunkDataBatch(dq.map((d) => d.sid), dq.map((d) => d.start)).then((rows) => {
        for (const r of rows) this.data.set(`${r.seriesId}:${r.startStep}`, r);
      }));
    }
    await Promise.all(jobs);
  }
}

/**
 * Reads of the PostgreSQL point store, the same algorithm as the SQLite reader (sealed-scan.ts,
 * tail-merge.ts) over rows fetched in batches: all requested series at once, a few round trips
 * per query.
 */
export class PgPointReader {
  constructor(private readonly repo: PgPointsRepo) {}

  async query(runId: number, series: SeriesRow[], lo: number, hi: number, maxPoints: number): Promise<SeriesQueryResult[]> {
    const stream = series.filter((s) => !isEvalSeries(s.name));
    const evals = series.filter((s) => isEvalSeries(s.name));
    const src = new Prefetched();
    const pass = (): Map<number, Bucketizer> => {
      const sizers = new Map<number, Bucketizer>();
      for (const s of stream) {
        const b = new Bucketizer(lo, hi, maxPoints);
        sizers.set(s.id, b);
        scanSealed(src, s.id, b);
      }
      return sizers;
    };
    let sizers = pass();
    let more = !src.complete;
    const [evalRows, tail] = await Promise.all([
      evals.length ? this.repo.evalPointsBatch(evals.map((s) => s.id), lo, hi) : [],
      stream.length ? this.repo.tailRows(runId, lo, hi) : [],
      more ? src.fetch(this.repo, lo, hi) : undefined,
    ]);
    // Each pass goes one level deeper than the last (at most levels + 2); the bound is a guard.
    for (let i = 0; more && i < 8; i++) {
      sizers = pass();
      more = !src.complete;
      if (more) await src.fetch(this.repo, lo, hi);
    }
    if (more) sizers = pass();
    for (const s of evals) sizers.set(s.id, new Bucketizer(lo, hi, maxPoints));
    for (const p of evalRows) sizers.get(p.seriesId)?.add(p.step, p.value);
    bucketTail(tail, stream, sizers);
    return series.map((s) => ({ name: s.name, firstNonFiniteStep: s.firstNonFiniteStep, buckets: sizers.get(s.id)?.finish() ?? [] }));
  }

  /**
   * Every point of one series at full resolution, in step order, a page of chunks at a time.
   * The last page and the tail are one statement: a seal committed meanwhile moves tail rows
   * into chunks that this statement then reads.
   */
  async *points(runId: number, s: SeriesRow): AsyncGenerator<[number, number]> {
    const all = Number.MAX_SAFE_INTEGER;
    if (isEvalSeries(s.name)) {
      for (const p of await this.repo.evalPointsBatch([s.id], 0, all)) yield [p.step, p.value];
      return;
    }
    let next = 0;
    for (;;) {
      const page = await this.repo.chunkPage(s.id, next, POINTS_PAGE);
      for (const c of page) {
        yield* chunkPoints(c.steps, c.vals, c.count);
        next = c.endStep + 1;
      }
      if (page.length < POINTS_PAGE) break;
    }
    for (const r of await this.repo.chunksThenTail(runId, s.id, next)) {
      if (r.kind === 0 && r.steps) {
        for (const p of chunkPoints(r.steps, r.vals, r.count)) {
          if (p[0] >= next) yield p;
        }
      } else if (r.kind === 1) {
        const v = readSlot(f64View(r.vals), s.slot);
        if (v !== undefined && r.step >= next) yield [r.step, v];
      }
    }
  }

  async seriesInfo(runId: number, series: SeriesRow[]): Promise<SeriesInfo[]> {
    const [totals, tail] = await Promise.all([this.repo.totals(runId, COARSEST.level), this.repo.tailRows(runId)]);
    return seriesInfoOf(series, totals, tail);
  }
}

function* chunkPoints(stepsBlob: Buffer, valsBlob: Buffer, count: number): Generator<[number, number]> {
  const steps = decodeSteps(stepsBlob, count);
  const vals = decodeVals(valsBlob, count);
  for (let i = 0; i < steps.length; i++) yield [steps[i] as number, vals[i] as number];
}
