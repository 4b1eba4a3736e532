import type { SeriesInfo } from '@gradwatch/shared';
import type { SeriesQueryResult } from './point-reader.js';
import type { SeriesRow } from './points.repo.js';
import type { StepRange } from './step-range.js';

export { CHUNK_ROWS, ROLLUP_LEVELS } from './chunk-writer.js';
export type { SeriesQueryResult } from './point-reader.js';
export { unionRange, type StepRange } from './step-range.js';

/** One step's values by series name, as ingest decoded them. */
export interface StepPoints {
  step: number;
  time?: number | undefined;
  epoch?: number | undefined;
  examples?: number | undefined;
  names: readonly string[];
  values: readonly number[];
}

export interface HistPoints {
  step: number;
  layer: string;
  of: string;
  edges: number[];
  counts: number[];
}

/** A stored histogram row (edges and counts as JSON text, in both databases) as the store returns it. */
export const histPointsOf = (r: { step: number; layer: string; of: string; edges: string; counts: string }): HistPoints => ({
  step: r.step, layer: r.layer, of: r.of, edges: JSON.parse(r.edges) as number[], counts: JSON.parse(r.counts) as number[],
});

/**
 * The storage boundary for points: everything ingest writes and REST reads, with no word of
 * how it is laid out. Each backend implements it its own way (SQLite: packed rows and chunks
 * written synchronously; PostgreSQL: the same layout over the network). Write methods run inside
 * the caller's write transaction (`Backend.transact`); after a rollback the caller says
 * `forget(runId)` so cached per-run state is read again.
 */
export interface PointStore {
  seriesCount(runId: number): Promise<number>;
  countNew(runId: number, names: readonly string[]): Promise<number>;
  appendSteps(runId: number, steps: readonly StepPoints[]): Promise<void>;
  appendEval(runId: number, step: number, names: readonly string[], values: readonly number[]): Promise<void>;
  /** Stores histograms in order; a later one for the same (layer, of, step) replaces the earlier. */
  appendHists(runId: number, hs: readonly HistPoints[]): Promise<void>;
  rewind(runId: number, step: number): Promise<void>;
  deleteRun(runId: number): Promise<void>;
  /** Drops cached per-run state (a rolled-back write, a run now written by another server). */
  forget(runId: number): void;

  series(runId: number): Promise<SeriesRow[]>;
  seriesInfo(runId: number): Promise<SeriesInfo[]>;
  query(runId: number, series: SeriesRow[], lo: number, hi: number, maxPoints: number): Promise<SeriesQueryResult[]>;
  /** Every point of one series in step order, read lazily. */
  points(runId: number, s: SeriesRow): AsyncGenerator<[number, number]>;
  extent(runId: number): Promise<StepRange>;
  stepRangeFor(runId: number, x: 'time' | 'epoch', from: number, to: number): Promise<StepRange>;
  stepTimes(runId: number, lo: number, hi: number, limit: number): Promise<Array<{ step: number; time: number | null; epoch: number | null }>>;
  stepCount(runId: number): Promise<number>;
  histograms(runId: number, layer: string | null, of: string | null, lo: number, hi: number, limit: number): Promise<HistPoints[]>;
}
