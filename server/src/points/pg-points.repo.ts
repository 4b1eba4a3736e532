import type { PgDb } from '../storage/pg.js';
import { byteaArray } from '../storage/pg-sql.js';
import { CHUNK_RECORD, ROLLUP_RECORD } from './pg-summary-codec.js';
import type { ChunkInsert, SeriesRow, StraddlingChunk } from './points.repo.js';
import type { HistPoints } from './point-store.js';
import type { TailEntry } from './step-index.js';
import type { SeriesTotal, TailRow } from './tail-merge.js';

/** A chunk to write: its summary and its encoded steps and raw values. */
export interface ChunkWrite {
  summary: ChunkInsert;
  steps: Buffer;
  vals: Buffer;
}

/** A rollup window's contribution from newly sealed chunks, merged into the stored row. */
export interface RollupWrite extends ChunkInsert {
  level: number;
  window: number;
}

type HistRow = { step: number; layer: string; of: string; edges: string; counts: string };
type ChunkPageRow = { startStep: number; endStep: number; count: number; steps: Buffer; vals: Buffer };

/** Column arrays of a list of rows, for `unnest(...)`: one statement whatever the row count. */
const col = <T, K extends keyof T>(rows: readonly T[], k: K): Array<T[K]> => rows.map((r) => r[k]);

/**
 * The point tables on PostgreSQL: queries only, no decisions. Every query runs on `db.q()`, the
 * caller's transaction when there is one. Many rows go in one statement through unnest() of
 * column arrays, and reads for many series are one query (a lateral join per request).
 */
export class PgPointsRepo {
  constructor(private readonly db: PgDb) {}

  private get q() {
    return this.db.q();
  }

  async seriesOfRun(runId: number): Promise<SeriesRow[]> {
    return this.q<SeriesRow[]>`SELECT id, name, slot, first_nonfinite_step AS first_non_finite_step FROM series WHERE run_id = ${runId} ORDER BY slot, id`;
  }

  async insertSeries(runId: number, names: readonly string[], slots: readonly number[]): Promise<SeriesRow[]> {
    return this.q<SeriesRow[]>`
      INSERT INTO series (run_id, name, slot) SELECT ${runId}, * FROM unnest(${names as string[]}::text[], ${slots as number[]}::int[])
      RETURNING id, name, slot, first_nonfinite_step AS first_non_finite_step`;
  }

  async markNonFinite(ids: readonly number[], steps: readonly number[]): Promise<void> {
    await this.q`
      UPDATE series s SET first_nonfinite_step = u.step FROM unnest(${ids as number[]}::int[], ${steps as number[]}::int8[]) AS u(id, step)
      WHERE s.id = u.id AND (s.first_nonfinite_step IS NULL OR s.first_nonfinite_step > u.step)`;
  }

  /**
   * The tail rows that stay (others were sealed at once), with their index entries. The tail
   * rows stored before are deleted first (deleteTail) when a seal took them: not in this
   * statement, since a row a seal kept goes back under the same key.
   */
  async insertTail(runId: number, tail: readonly TailEntry[]): Promise<void> {
    if (tail.length === 0) return;
    await this.q`
      INSERT INTO step_tail (run_id, step, vals, time, epoch, examples, indexed)
      SELECT ${runId}, * FROM unnest(${col(tail, 'step')}::int8[], ${byteaArray(col(tail, 'vals'))}::bytea[],
        ${col(tail, 'time')}::float8[], ${col(tail, 'epoch')}::float8[], ${col(tail, 'examples')}::int8[],
        ${tail.map((r) => (r.indexed ? 1 : 0))}::int[])`;
  }

  async tailRows(runId: number, lo = 0, hi = Number.MAX_SAFE_INTEGER): Promise<TailRow[]> {
    return this.q<TailRow[]>`SELECT step, vals FROM step_tail WHERE run_id = ${runId} AND step BETWEEN ${lo} AND ${hi} ORDER BY step`;
  }

  async tailEntries(runId: number): Promise<TailEntry[]> {
    const rows = await this.q<Array<Omit<TailEntry, 'indexed'> & { indexed: number }>>`
      SELECT step, vals, time, epoch, examples, indexed FROM step_tail WHERE run_id = ${runId} ORDER BY step`;
    return rows.map((r) => ({ ...r, indexed: r.indexed === 1 }));
  }

  async deleteTail(runId: number): Promise<void> {
    await this.q`DELETE FROM step_tail WHERE run_id = ${runId}`;
  }

  /** New chunks and their data, and the rollup windows they fall in (one row per key). */
  async insertChunks(chunks: readonly ChunkWrite[], rollups: readonly RollupWrite[]): Promise<void> {
    if (chunks.length === 0) return;
    const s = chunks.map((c) => c.summary);
    await this.q`
      WITH d AS (
        INSERT INTO chunk_data (series_id, start_step, steps, vals)
        SELECT * FROM unnest(${col(s, 'seriesId')}::int[], ${col(s, 'startStep')}::int8[],
          ${byteaArray(col(chunks, 'steps'))}::bytea[], ${byteaArray(col(chunks, 'vals'))}::bytea[])
      ), c AS (
        INSERT INTO chunks (series_id, start_step, end_step, count, min, max, last, last_kind, nan, pos_inf, neg_inf)
        SELECT * FROM unnest(${col(s, 'seriesId')}::int[], ${col(s, 'startStep')}::int8[], ${col(s, 'endStep')}::int8[],
          ${col(s, 'count')}::int8[], ${col(s, 'min')}::float8[], ${col(s, 'max')}::float8[], ${col(s, 'last')}::float8[],
          ${col(s, 'lastKind')}::int[], ${col(s, 'nan')}::int[], ${col(s, 'posInf')}::int[], ${col(s, 'negInf')}::int[])
      )
      ${this.upsertRollupsSql(rollups)}`;
  }

  /** As SQLite's upsert: least/greatest skip NULLs, as min(coalesce(..)) does there. */
  private upsertRollupsSql(r: readonly RollupWrite[]) {
    return this.q`
      INSERT INTO rollups AS o (series_id, level, "window", from_step, to_step, count, min, max, last, last_kind, nan, pos_inf, neg_inf)
      SELECT * FROM unnest(${col(r, 'seriesId')}::int[], ${col(r, 'level')}::int[], ${col(r, 'window')}::int8[],
        ${col(r, 'startStep')}::int8[], ${col(r, 'endStep')}::int8[], ${col(r, 'count')}::int8[], ${col(r, 'min')}::float8[],
        ${col(r, 'max')}::float8[], ${col(r, 'last')}::float8[], ${col(r, 'lastKind')}::int[], ${col(r, 'nan')}::int[],
        ${col(r, 'posInf')}::int[], ${col(r, 'negInf')}::int[])
      ON CONFLICT (series_id, level, "window") DO UPDATE SET
        from_step = least(o.from_step, excluded.from_step), to_step = greatest(o.to_step, excluded.to_step),
        count = o.count + excluded.count, min = least(o.min, excluded.min), max = greatest(o.max, excluded.max),
        last = CASE WHEN excluded.to_step >= o.to_step THEN excluded.last ELSE o.last END,
        last_kind = CASE WHEN excluded.to_step >= o.to_step THEN excluded.last_kind ELSE o.last_kind END,
        nan = o.nan + excluded.nan, pos_inf = o.pos_inf + excluded.pos_inf, neg_inf = o.neg_inf + excluded.neg_inf`;
  }

  /** Chunks of several (series, start range) requests overlapping [lo, hi], packed; `i` is the request's index. */
  async chunksBatch(sids: number[], startLo: number[], startHi: number[], lo: number, hi: number): Promise<Array<{ i: number; blob: Buffer | null }>> {
    return this.q<Array<{ i: number; blob: Buffer | null }>>`
      SELECT (q.i - 1)::int AS i, c.blob FROM unnest(${sids}::int[], ${startLo}::int8[], ${startHi}::int8[]) WITH ORDINALITY AS q(sid, slo, shi, i)
      CROSS JOIN LATERAL (SELECT string_agg(${this.q.unsafe(CHUNK_RECORD)}, ''::bytea ORDER BY start_step) AS blob FROM chunks
        WHERE series_id = q.sid AND start_step BETWEEN q.slo AND q.shi AND end_step >= ${lo} AND start_step <= ${hi}) c`;
  }

  /**
   * For each series, where a scan of [lo, hi] begins (the start of the chunk holding lo, as
   * SQLite's chunkStartAtOrBefore; null when none holds it) and the chunks from there, packed.
   */
  async chunksFromStart(sids: number[], lo: number, hi: number): Promise<Array<{ sid: number; start: number | null; blob: Buffer | null }>> {
    return this.q<Array<{ sid: number; start: number | null; blob: Buffer | null }>>`
      SELECT q.sid, s.start, c.blob FROM unnest(${sids}::int[]) AS q(sid)
      CROSS JOIN LATERAL (SELECT max(start_step) AS start FROM chunks WHERE series_id = q.sid AND start_step <= ${lo}) s
      CROSS JOIN LATERAL (SELECT string_agg(${this.q.unsafe(CHUNK_RECORD)}, ''::bytea ORDER BY start_step) AS blob FROM chunks
        WHERE series_id = q.sid AND start_step BETWEEN coalesce(s.start, ${lo}) AND ${hi} AND end_step >= ${lo}) c`;
  }

  async rollupsBatch(sids: number[], levels: number[], wLo: number[], wHi: number[], lo: number, hi: number): Promise<Array<{ i: number; blob: Buffer | null }>> {
    return this.q<Array<{ i: number; blob: Buffer | null }>>`
      SELECT (q.i - 1)::int AS i, r.blob FROM unnest(${sids}::int[], ${levels}::int[], ${wLo}::int8[], ${wHi}::int8[]) WITH ORDINALITY AS q(sid, lvl, wlo, whi, i)
      CROSS JOIN LATERAL (SELECT string_agg(${this.q.unsafe(ROLLUP_RECORD)}, ''::bytea ORDER BY "window") AS blob FROM rollups
        WHERE series_id = q.sid AND level = q.lvl AND "window" BETWEEN q.wlo AND q.whi AND to_step >= ${lo} AND from_step <= ${hi}) r`;
  }

  async chunkDataBatch(sids: number[], starts: number[]): Promise<Array<{ seriesId: number; startStep: number; steps: Buffer; vals: Buffer }>> {
    return this.q<Array<{ seriesId: number; startStep: number; steps: Buffer; vals: Buffer }>>`
      SELECT d.series_id, d.start_step, d.steps, d.vals FROM unnest(${sids}::int[], ${starts}::int8[]) AS q(sid, start)
      JOIN chunk_data d ON d.series_id = q.sid AND d.start_step = q.start`;
  }

  /** A page of a series' chunks with their data, from `from` on (points(), read lazily). */
  async chunkPage(seriesId: number, from: number, limit: number): Promise<ChunkPageRow[]> {
    return this.q<ChunkPageRow[]>`
      SELECT c.start_step, c.end_step, c.count, d.steps, d.vals FROM chunks c
      JOIN chunk_data d ON d.series_id = c.series_id AND d.start_step = c.start_step
      WHERE c.series_id = ${seriesId} AND c.start_step >= ${from} AND c.end_step >= ${from} ORDER BY c.start_step LIMIT ${limit}`;
  }

  /** The rest of a series: chunks (kind 0) then tail rows (kind 1) in one snapshot, so no seal hides points. */
  async chunksThenTail(runId: number, seriesId: number, from: number): Promise<Array<{ kind: number; step: number; count: number; steps: Buffer | null; vals: Buffer }>> {
    return this.q<Array<{ kind: number; step: number; count: number; steps: Buffer | null; vals: Buffer }>>`
      SELECT 0 AS kind, c.start_step AS step, c.count, d.steps, d.vals FROM chunks c
        JOIN chunk_data d ON d.series_id = c.series_id AND d.start_step = c.start_step
        WHERE c.series_id = ${seriesId} AND c.start_step >= ${from} AND c.end_step >= ${from}
      UNION ALL
      SELECT 1, step, 0, NULL, vals FROM step_tail WHERE run_id = ${runId} AND step >= ${from}
      ORDER BY kind, step`;
  }

  /**
   * Sealed and eval totals per series of a run. Sealed ones from the coarsest rollups, which sum
   * every chunk (one row per 131,072 steps, where the chunks are one per 128 steps).
   */
  async totals(runId: number, level: number): Promise<SeriesTotal[]> {
    return this.q<SeriesTotal[]>`
      SELECT series_id AS id, sum(count)::int8 AS n, min(from_step) AS first, max(to_step) AS last FROM rollups
        WHERE level = ${level} AND series_id IN (SELECT id FROM series WHERE run_id = ${runId}) GROUP BY series_id
      UNION ALL
      SELECT series_id, count(*), min(step), max(step) FROM eval_points
        WHERE series_id IN (SELECT id FROM series WHERE run_id = ${runId}) GROUP BY series_id`;
  }

  /** Eval points keep SQLite's convention, NULL for NaN, so rows compare between backends. */
  async upsertEval(seriesIds: readonly number[], step: number, values: readonly number[]): Promise<void> {
    const v = values.map((x) => (x !== x ? null : x));
    await this.q`
      INSERT INTO eval_points (series_id, step, value) SELECT u.id, ${step}, u.v FROM unnest(${seriesIds as number[]}::int[], ${v}::float8[]) AS u(id, v)
      ON CONFLICT (series_id, step) DO UPDATE SET value = excluded.value`;
  }

  async evalPointsBatch(sids: number[], lo: number, hi: number): Promise<Array<{ seriesId: number; step: number; value: number }>> {
    const rows = await this.q<Array<{ seriesId: number; step: number; value: number | null }>>`
      SELECT series_id, step, value FROM eval_points WHERE series_id = ANY(${sids}::int[]) AND step BETWEEN ${lo} AND ${hi}
      ORDER BY series_id, step`;
    return rows.map((r) => ({ seriesId: r.seriesId, step: r.step, value: r.value ?? Number.NaN }));
  }

  async evalExtent(runId: number): Promise<{ lo: number | null; hi: number | null }> {
    const [r] = await this.q<Array<{ lo: number | null; hi: number | null }>>`
      SELECT min(step) AS lo, max(step) AS hi FROM eval_points WHERE series_id IN (SELECT id FROM series WHERE run_id = ${runId})`;
    return r ?? { lo: null, hi: null };
  }

  /** Everything at or after a step goes, in one statement; returns the chunks straddling it, to trim. */
  async rewind(runId: number, step: number): Promise<StraddlingChunk[]> {
    return this.q<StraddlingChunk[]>`
      WITH s AS (SELECT id FROM series WHERE run_id = ${runId}),
        x2 AS (DELETE FROM step_tail WHERE run_id = ${runId} AND step >= ${step}),
        x3 AS (DELETE FROM chunk_data WHERE start_step >= ${step} AND series_id IN (SELECT id FROM s)),
        x4 AS (DELETE FROM chunks WHERE start_step >= ${step} AND series_id IN (SELECT id FROM s)),
        x5 AS (DELETE FROM eval_points WHERE step >= ${step} AND series_id IN (SELECT id FROM s)),
        x6 AS (DELETE FROM histograms WHERE run_id = ${runId} AND step >= ${step}),
        x7 AS (UPDATE series SET first_nonfinite_step = NULL WHERE run_id = ${runId} AND first_nonfinite_step >= ${step})
      SELECT c.series_id, c.start_step, c.count, d.steps, d.vals FROM chunks c
        JOIN chunk_data d ON d.series_id = c.series_id AND d.start_step = c.start_step
        WHERE c.start_step < ${step} AND c.end_step >= ${step} AND c.series_id IN (SELECT id FROM s)`;
  }

  async deleteChunks(sids: number[], starts: number[]): Promise<void> {
    if (sids.length === 0) return;
    await this.q`
      WITH k AS (SELECT * FROM unnest(${sids}::int[], ${starts}::int8[]) AS k(sid, start)),
        d AS (DELETE FROM chunk_data USING k WHERE series_id = k.sid AND start_step = k.start)
      DELETE FROM chunks USING k WHERE series_id = k.sid AND start_step = k.start`;
  }

  /** Rebuilds the windows from `window` on from the chunks that remain, as SQLite's rebuild does. */
  async rebuildRollupsFrom(runId: number, level: number, size: number, window: number): Promise<void> {
    // Two statements: an INSERT does not see a DELETE of the same statement, so would collide.
    await this.q`DELETE FROM rollups WHERE level = ${level} AND "window" >= ${window} AND series_id IN (SELECT id FROM series WHERE run_id = ${runId})`;
    await this.q`
      WITH s AS (SELECT id FROM series WHERE run_id = ${runId})
      INSERT INTO rollups (series_id, level, "window", from_step, to_step, count, min, max, last, last_kind, nan, pos_inf, neg_inf)
      SELECT series_id, ${level}, start_step / ${size}, min(start_step), max(end_step), sum(count)::int8, min(min), max(max),
        (array_agg(last ORDER BY start_step DESC))[1], (array_agg(last_kind ORDER BY start_step DESC))[1],
        sum(nan)::int, sum(pos_inf)::int, sum(neg_inf)::int
      FROM chunks WHERE series_id IN (SELECT id FROM s) AND start_step >= ${window * size}
      GROUP BY series_id, 3`;
  }

  /** Deleting a run's points: these tables have no foreign keys (kept lean for the write path). */
  async deleteRunPoints(runId: number): Promise<void> {
    await this.q`
      WITH s AS (SELECT id FROM series WHERE run_id = ${runId}),
        x1 AS (DELETE FROM rollups WHERE series_id IN (SELECT id FROM s)),
        x2 AS (DELETE FROM chunk_data WHERE series_id IN (SELECT id FROM s)),
        x3 AS (DELETE FROM chunks WHERE series_id IN (SELECT id FROM s)),
        x4 AS (DELETE FROM eval_points WHERE series_id IN (SELECT id FROM s)),
        x5 AS (DELETE FROM step_blocks WHERE run_id = ${runId}),
        x6 AS (DELETE FROM step_tail WHERE run_id = ${runId}),
        x7 AS (DELETE FROM histograms WHERE run_id = ${runId})
      DELETE FROM series WHERE run_id = ${runId}`;
  }

  async insertHists(runId: number, hs: readonly HistPoints[]): Promise<void> {
    const json = (k: 'edges' | 'counts') => hs.map((h) => JSON.stringify(h[k]));
    await this.q`
      INSERT INTO histograms (run_id, step, layer, of, edges, counts)
      SELECT ${runId}, * FROM unnest(${col(hs, 'step')}::int8[], ${col(hs, 'layer')}::text[], ${col(hs, 'of')}::text[],
        ${json('edges')}::text[], ${json('counts')}::text[])
      ON CONFLICT (run_id, layer, of, step) DO UPDATE SET edges = excluded.edges, counts = excluded.counts`;
  }

  async histograms(runId: number, layer: string | null, of: string | null, lo: number, hi: number, limit: number): Promise<HistRow[]> {
    return this.q<HistRow[]>`
      SELECT step, layer, of, edges, counts FROM histograms WHERE run_id = ${runId}
        AND (${layer}::text IS NULL OR layer = ${layer}) AND (${of}::text IS NULL OR of = ${of})
        AND step BETWEEN ${lo} AND ${hi} ORDER BY step DESC LIMIT ${limit}`;
  }
}
