import type Database from 'better-sqlite3';
import type { Db } from '../storage/db.js';
import type { ChunkBlobs } from './chunk-codec.js';
import type { TailEntry } from './step-block-codec.js';

export interface ChunkSummaryRow {
  startStep: number;
  endStep: number;
  count: number;
  min: number | null;
  max: number | null;
  last: number | null;
  lastKind: number;
  nan: number;
  posInf: number;
  negInf: number;
}

export interface ChunkInsert extends ChunkSummaryRow {
  seriesId: number;
}

/** [window (0 for chunks), start, end, count, min, max, last, last_kind, nan, pos_inf, neg_inf] */
type SummaryTuple = [number, number, number, number, number | null, number | null, number | null, number, number, number, number];

const summaryOf = (t: SummaryTuple): ChunkSummaryRow => ({
  startStep: t[1], endStep: t[2], count: t[3], min: t[4], max: t[5], last: t[6], lastKind: t[7], nan: t[8], posInf: t[9], negInf: t[10],
});

export interface RollupRow extends ChunkSummaryRow {
  window: number;
}

export interface SeriesRow {
  id: number;
  name: string;
  slot: number;
  firstNonFiniteStep: number | null;
}

export interface StraddlingChunk {
  seriesId: number;
  startStep: number;
  count: number;
  steps: Buffer;
  vals: Buffer;
}

// The statements a seal runs once per series (chunks, rollups) bind positionally: binding an
// object by parameter name costs a lookup per field, a third of an upsert's time.
function statements(c: Database.Database) {
  return {
    insertSeries: c.prepare('INSERT INTO series (run_id, name, slot) VALUES (?, ?, ?) RETURNING id'),
    seriesOfRun: c.prepare('SELECT id, name, slot, first_nonfinite_step AS firstNonFiniteStep FROM series WHERE run_id = ? ORDER BY slot'),
    markNonFinite: c.prepare(
      'UPDATE series SET first_nonfinite_step = ? WHERE id = ? AND (first_nonfinite_step IS NULL OR first_nonfinite_step > ?)',
    ),
    insertStep: c.prepare('INSERT INTO step_tail (run_id, step, vals, time, epoch, examples, indexed) VALUES (?, ?, ?, ?, ?, ?, 0)'),
    // A row a seal keeps: its step is in a block now (indexed defaults to 1).
    insertTail: c.prepare('INSERT INTO step_tail (run_id, step, vals) VALUES (?, ?, ?)'),
    tailRows: c.prepare('SELECT step, vals FROM step_tail WHERE run_id = ? AND step BETWEEN ? AND ? ORDER BY step'),
    tailEntries: c.prepare('SELECT step, vals, time, epoch, examples, indexed FROM step_tail WHERE run_id = ? ORDER BY step'),
    deleteTail: c.prepare('DELETE FROM step_tail WHERE run_id = ?'),
    insertChunkData: c.prepare('INSERT INTO chunk_data (series_id, start_step, steps, vals) VALUES (?, ?, ?, ?)'),
    insertChunk: c.prepare(
      `INSERT INTO chunks (series_id, start_step, end_step, count, min, max, last, last_kind, nan, pos_inf, neg_inf)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    chunkData: c.prepare('SELECT steps, vals FROM chunk_data WHERE series_id = ? AND start_step = ?'),
    chunkDataBetween: c.prepare('SELECT start_step, steps, vals FROM chunk_data WHERE series_id = ? AND start_step BETWEEN ? AND ? ORDER BY start_step').raw(true),
    // Summaries are read by the thousand per query: as arrays, which better-sqlite3 builds faster.
    chunksByStart: c.prepare(
      `SELECT 0, start_step, end_step, count, min, max, last, last_kind, nan, pos_inf, neg_inf FROM chunks
       WHERE series_id = ? AND start_step BETWEEN ? AND ? AND end_step >= ? AND start_step <= ? ORDER BY start_step`,
    ).raw(true),
    chunkStartAtOrBefore: c.prepare('SELECT max(start_step) AS s FROM chunks WHERE series_id = ? AND start_step <= ?'),
    upsertRollup: c.prepare(
      `INSERT INTO rollups (series_id, level, window, from_step, to_step, count, min, max, last, last_kind, nan, pos_inf, neg_inf)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (series_id, level, window) DO UPDATE SET
         from_step = min(from_step, excluded.from_step), to_step = max(to_step, excluded.to_step),
         count = count + excluded.count,
         min = min(coalesce(min, excluded.min), coalesce(excluded.min, min)),
         max = max(coalesce(max, excluded.max), coalesce(excluded.max, max)),
         last = CASE WHEN excluded.to_step >= to_step THEN excluded.last ELSE last END,
         last_kind = CASE WHEN excluded.to_step >= to_step THEN excluded.last_kind ELSE last_kind END,
         nan = nan + excluded.nan, pos_inf = pos_inf + excluded.pos_inf, neg_inf = neg_inf + excluded.neg_inf`,
    ),
    rollups: c.prepare(
      `SELECT window, from_step AS start_step, to_step AS end_step, count, min, max, last, last_kind, nan, pos_inf, neg_inf FROM rollups
       WHERE series_id = ? AND level = ? AND window BETWEEN ? AND ? AND to_step >= ? AND from_step <= ? ORDER BY window`,
    ).raw(true),
    deleteRunRollupsFrom: c.prepare(
      'DELETE FROM rollups WHERE level = ? AND window >= ? AND series_id IN (SELECT id FROM series WHERE run_id = ?)',
    ),
    // Rebuilds windows from the chunks that remain, as the migration that introduced rollups does.
    rebuildRunRollupsFrom: c.prepare(
      `WITH w AS (SELECT c.*, c.start_step / CAST(@size AS INTEGER) AS win FROM chunks c
                 WHERE c.series_id IN (SELECT id FROM series WHERE run_id = @run))
       INSERT INTO rollups (series_id, level, window, from_step, to_step, count, min, max, last, last_kind, nan, pos_inf, neg_inf)
       SELECT w.series_id, @level, w.win, min(w.start_step), max(w.end_step), sum(w.count), min(w.min), max(w.max),
         (SELECT l.last FROM w l WHERE l.series_id = w.series_id AND l.win = w.win ORDER BY l.start_step DESC LIMIT 1),
         (SELECT l.last_kind FROM w l WHERE l.series_id = w.series_id AND l.win = w.win ORDER BY l.start_step DESC LIMIT 1),
         sum(w.nan), sum(w.pos_inf), sum(w.neg_inf)
       FROM w WHERE w.win >= @window GROUP BY w.series_id, w.win`,
    ),
    deleteRunRollups: c.prepare('DELETE FROM rollups WHERE series_id IN (SELECT id FROM series WHERE run_id = ?)'),
    chunkTotals: c.prepare(
      `SELECT series_id AS id, sum(count) AS n, min(start_step) AS first, max(end_step) AS last
       FROM chunks WHERE series_id IN (SELECT id FROM series WHERE run_id = ?) GROUP BY series_id`,
    ),
    upsertEval: c.prepare(
      'INSERT INTO eval_points (series_id, step, value) VALUES (?, ?, ?) ON CONFLICT (series_id, step) DO UPDATE SET value = excluded.value',
    ),
    evalPoints: c.prepare('SELECT step, value FROM eval_points WHERE series_id = ? AND step BETWEEN ? AND ? ORDER BY step'),
    evalTotals: c.prepare(
      `SELECT series_id AS id, count(*) AS n, min(step) AS first, max(step) AS last FROM eval_points
       WHERE series_id IN (SELECT id FROM series WHERE run_id = ?) GROUP BY series_id`,
    ),
    evalExtent: c.prepare(
      'SELECT min(step) AS lo, max(step) AS hi FROM eval_points WHERE series_id IN (SELECT id FROM series WHERE run_id = ?)',
    ),
    // Rewind: everything at or after a step goes.
    rewindTail: c.prepare('DELETE FROM step_tail WHERE run_id = ? AND step >= ?'),
    rewindChunkData: c.prepare(
      'DELETE FROM chunk_data WHERE start_step >= ? AND series_id IN (SELECT id FROM series WHERE run_id = ?)',
    ),
    rewindChunks: c.prepare(
      'DELETE FROM chunks WHERE start_step >= ? AND series_id IN (SELECT id FROM series WHERE run_id = ?)',
    ),
    straddlingChunks: c.prepare(
      `SELECT c.series_id AS seriesId, c.start_step AS startStep, c.count, d.steps, d.vals FROM chunks c
       JOIN chunk_data d ON d.series_id = c.series_id AND d.start_step = c.start_step
       WHERE c.start_step < ? AND c.end_step >= ? AND c.series_id IN (SELECT id FROM series WHERE run_id = ?)`,
    ),
    deleteChunkData: c.prepare('DELETE FROM chunk_data WHERE series_id = ? AND start_step = ?'),
    deleteChunk: c.prepare('DELETE FROM chunks WHERE series_id = ? AND start_step = ?'),
    rewindEval: c.prepare(
      'DELETE FROM eval_points WHERE step >= ? AND series_id IN (SELECT id FROM series WHERE run_id = ?)',
    ),
    rewindHist: c.prepare('DELETE FROM histograms WHERE run_id = ? AND step >= ?'),
    resetNonFinite: c.prepare('UPDATE series SET first_nonfinite_step = NULL WHERE run_id = ? AND first_nonfinite_step >= ?'),
    // Deleting a run: tables without foreign keys (kept lean for the write path).
    deleteRunChunkData: c.prepare('DELETE FROM chunk_data WHERE series_id IN (SELECT id FROM series WHERE run_id = ?)'),
    deleteRunChunks: c.prepare('DELETE FROM chunks WHERE series_id IN (SELECT id FROM series WHERE run_id = ?)'),
    deleteRunEval: c.prepare('DELETE FROM eval_points WHERE series_id IN (SELECT id FROM series WHERE run_id = ?)'),
    deleteRunHist: c.prepare('DELETE FROM histograms WHERE run_id = ?'),
    deleteRunSeries: c.prepare('DELETE FROM series WHERE run_id = ?'),
    insertHist: c.prepare(
      `INSERT INTO histograms (run_id, step, layer, of, edges, counts) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id, layer, of, step) DO UPDATE SET edges = excluded.edges, counts = excluded.counts`,
    ),
    histograms: c.prepare(
      `SELECT step, layer, of, edges, counts FROM histograms WHERE run_id = ? AND (? IS NULL OR layer = ?)
       AND (? IS NULL OR of = ?) AND step BETWEEN ? AND ? ORDER BY step DESC LIMIT ?`,
    ),
  };
}

/** Prepared statements of the point store: queries only, no decisions. */
export class PointsRepo {
  private readonly s: ReturnType<typeof statements>;

  constructor(db: Db) {
    this.s = statements(db.$client);
  }

  insertSeries(runId: number, name: string, slot: number): number {
    return (this.s.insertSeries.get(runId, name, slot) as { id: number }).id;
  }
  seriesOfRun(runId: number): SeriesRow[] {
    return this.s.seriesOfRun.all(runId) as SeriesRow[];
  }
  markNonFinite(seriesId: number, step: number): void {
    this.s.markNonFinite.run(step, seriesId, step);
  }
  /** A new step: its packed values and its index entry, until a seal moves that into a block. */
  insertStep(runId: number, step: number, time: number | null, epoch: number | null, examples: number | null, vals: Buffer): void {
    this.s.insertStep.run(runId, step, vals, time, epoch, examples);
  }
  /** A tail row whose step a block indexes already: a sparse series' points kept at a seal. */
  insertTail(runId: number, step: number, vals: Buffer): void {
    this.s.insertTail.run(runId, step, vals);
  }
  tailRows(runId: number, lo: number, hi: number): Array<{ step: number; vals: Buffer }> {
    return this.s.tailRows.all(runId, lo, hi) as Array<{ step: number; vals: Buffer }>;
  }
  /** Every tail row of a run with its index entry, read when the store takes the run up. */
  tailEntries(runId: number): TailEntry[] {
    const rows = this.s.tailEntries.all(runId) as Array<Omit<TailEntry, 'indexed'> & { indexed: number }>;
    return rows.map((r) => ({ ...r, indexed: r.indexed === 1 }));
  }
  deleteTail(runId: number): void {
    this.s.deleteTail.run(runId);
  }
  insertChunk(c: ChunkInsert, steps: Buffer, vals: Buffer): void {
    this.s.insertChunkData.run(c.seriesId, c.startStep, steps, vals);
    this.s.insertChunk.run(c.seriesId, c.startStep, c.endStep, c.count, c.min, c.max, c.last, c.lastKind, c.nan, c.posInf, c.negInf);
  }
  chunksByStart(seriesId: number, startLo: number, startHi: number, lo: number, hi: number): ChunkSummaryRow[] {
    return (this.s.chunksByStart.all(seriesId, startLo, startHi, lo, hi) as SummaryTuple[]).map(summaryOf);
  }
  /** Start of the chunk holding `step`, if any: where a scan of the range from `step` begins. */
  chunkStartAtOrBefore(seriesId: number, step: number): number | null {
    return (this.s.chunkStartAtOrBefore.get(seriesId, step) as { s: number | null }).s;
  }
  upsertRollup(level: number, window: number, c: ChunkInsert): void {
    this.s.upsertRollup.run(c.seriesId, level, window, c.startStep, c.endStep, c.count, c.min, c.max, c.last, c.lastKind, c.nan, c.posInf, c.negInf);
  }
  rollups(seriesId: number, level: number, wLo: number, wHi: number, lo: number, hi: number): RollupRow[] {
    return (this.s.rollups.all(seriesId, level, wLo, wHi, lo, hi) as SummaryTuple[]).map((t) => ({ ...summaryOf(t), window: t[0] }));
  }
  rebuildRollupsFrom(runId: number, level: number, size: number, window: number): void {
    this.s.deleteRunRollupsFrom.run(level, window, runId);
    this.s.rebuildRunRollupsFrom.run({ level, size, window, run: runId });
  }
  chunkData(seriesId: number, startStep: number): ChunkBlobs {
    return this.s.chunkData.get(seriesId, startStep) as ChunkBlobs;
  }
  chunkDataOf(seriesId: number, starts: readonly number[]): Array<ChunkBlobs | undefined> {
    if (starts.length <= 1) return starts.map((s) => this.s.chunkData.get(seriesId, s) as ChunkBlobs | undefined);
    const got = new Map<number, ChunkBlobs>();
    const rows = this.s.chunkDataBetween.all(seriesId, starts[0], starts[starts.length - 1]) as Array<[number, Buffer, Buffer]>;
    for (const [start, steps, vals] of rows) got.set(start, { steps, vals });
    return starts.map((s) => got.get(s));
  }
  chunkTotals(runId: number): Array<{ id: number; n: number; first: number; last: number }> {
    return this.s.chunkTotals.all(runId) as Array<{ id: number; n: number; first: number; last: number }>;
  }
  upsertEval(seriesId: number, step: number, value: number): void {
    // SQLite turns a NaN REAL into NULL: NULL is the NaN of this table, ±Infinity are stored as is.
    this.s.upsertEval.run(seriesId, step, value !== value ? null : value);
  }
  evalPoints(seriesId: number, lo: number, hi: number): Array<{ step: number; value: number }> {
    const rows = this.s.evalPoints.all(seriesId, lo, hi) as Array<{ step: number; value: number | null }>;
    return rows.map((r) => ({ step: r.step, value: r.value ?? Number.NaN }));
  }
  evalTotals(runId: number): Array<{ id: number; n: number; first: number; last: number }> {
    return this.s.evalTotals.all(runId) as Array<{ id: number; n: number; first: number; last: number }>;
  }
  evalExtent(runId: number): { lo: number | null; hi: number | null } {
    return this.s.evalExtent.get(runId) as { lo: number | null; hi: number | null };
  }
  rewind(runId: number, step: number): StraddlingChunk[] {
    this.s.rewindTail.run(runId, step);
    this.s.rewindChunkData.run(step, runId);
    this.s.rewindChunks.run(step, runId);
    this.s.rewindEval.run(step, runId);
    this.s.rewindHist.run(runId, step);
    this.s.resetNonFinite.run(runId, step);
    return this.s.straddlingChunks.all(step, step, runId) as StraddlingChunk[];
  }
  deleteChunk(seriesId: number, startStep: number): void {
    this.s.deleteChunkData.run(seriesId, startStep);
    this.s.deleteChunk.run(seriesId, startStep);
  }
  deleteRunPoints(runId: number): void {
    this.s.deleteRunRollups.run(runId);
    this.s.deleteRunChunkData.run(runId);
    this.s.deleteRunChunks.run(runId);
    this.s.deleteRunEval.run(runId);
    this.s.deleteTail.run(runId);
    this.s.deleteRunHist.run(runId);
    this.s.deleteRunSeries.run(runId);
  }
  insertHist(runId: number, step: number, layer: string, of: string, edges: number[], counts: number[]): void {
    this.s.insertHist.run(runId, step, layer, of, JSON.stringify(edges), JSON.stringify(counts));
  }
  histograms(runId: number, layer: string | null, of: string | null, lo: number, hi: number, limit: number): Array<{
    step: number; layer: string; of: string; edges: string; counts: string;
  }> {
    return this.s.histograms.all(runId, layer, layer, of, of, lo, hi, limit) as Array<{
      step: number; layer: string; of: string; edges: string; counts: string;
    }>;
  }
}
