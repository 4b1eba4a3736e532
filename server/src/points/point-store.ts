import type { SeriesInfo } from '@gradwatch/shared';
import { CHUNK_ROWS, ChunkWriter } from './chunk-writer.js';
import { newRow, rowToBuffer, setValue } from './packed.js';
import { PointReader, type SeriesQueryResult } from './point-reader.js';
import type { PointsRepo, SeriesRow } from './points.repo.js';
import { SeriesCatalog } from './series-catalog.js';

export { CHUNK_ROWS, ROLLUP_LEVELS } from './chunk-writer.js';
export type { SeriesQueryResult } from './point-reader.js';

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

export interface StepRange {
  lo: number | null;
  hi: number | null;
}

/**
 * The storage boundary for points: everything ingest writes and REST reads, with no word of
 * how it is laid out. Write methods run inside the caller's write transaction; after a rollback
 * the caller says `forget(runId)` so cached per-run state is read again.
 */
export interface PointStore {
  seriesCount(runId: number): number;
  countNew(runId: number, names: readonly string[]): number;
  appendSteps(runId: number, steps: readonly StepPoints[]): void;
  appendEval(runId: number, step: number, names: readonly string[], values: readonly number[]): void;
  appendHist(runId: number, h: HistPoints): void;
  rewind(runId: number, step: number): void;
  deleteRun(runId: number): void;
  forget(runId: number): void;

  series(runId: number): SeriesRow[];
  seriesInfo(runId: number): SeriesInfo[];
  query(runId: number, series: SeriesRow[], lo: number, hi: number, maxPoints: number): SeriesQueryResult[];
  points(runId: number, s: SeriesRow): Generator<[number, number]>;
  extent(runId: number): StepRange;
  stepRangeFor(runId: number, x: 'time' | 'epoch', from: number, to: number): StepRange;
  stepTimes(runId: number, lo: number, hi: number, limit: number): Array<{ step: number; time: number | null; epoch: number | null }>;
  stepCount(runId: number): number;
  histograms(runId: number, layer: string | null, of: string | null, lo: number, hi: number, limit: number): HistPoints[];
}

/** What the store keeps in memory for a run being written. */
interface RunTail {
  catalog: SeriesCatalog;
  tailCount: number;
}

/**
 * The SQLite point store: each step is one packed float64 row (one slot per series) in a tail
 * table; every CHUNK_ROWS steps the tail is sealed into per-series chunks with rollups over
 * them. Eval metrics, rare and unordered, live in a narrow table.
 */
export class SqlitePointStore implements PointStore {
  private readonly tails = new Map<number, RunTail>();
  private readonly chunks: ChunkWriter;
  private readonly reader: PointReader;

  constructor(private readonly repo: PointsRepo) {
    this.chunks = new ChunkWriter(repo);
    this.reader = new PointReader(repo);
  }

  private tail(runId: number): RunTail {
    let t = this.tails.get(runId);
    if (!t) {
      t = { catalog: new SeriesCatalog(this.repo.seriesOfRun(runId)), tailCount: this.repo.tailCount(runId) };
      this.tails.set(runId, t);
    }
    return t;
  }

  /** Finds or creates a series; eval series live outside packed rows and get no slot. */
  private ensure(runId: number, t: RunTail, name: string, packed: boolean): SeriesRow {
    const found = t.catalog.get(name);
    if (found) return found;
    const slot = packed ? t.catalog.nextSlot : -1;
    const row: SeriesRow = { id: this.repo.insertSeries(runId, name, slot), name, slot, firstNonFiniteStep: null };
    t.catalog.add(row);
    return row;
  }

  private noteNonFinite(s: SeriesRow, step: number, v: number): void {
    if (Number.isFinite(v) || s.firstNonFiniteStep !== null) return;
    s.firstNonFiniteStep = step;
    this.repo.markNonFinite(s.id, step);
  }

  seriesCount(runId: number): number {
    return this.tail(runId).catalog.size;
  }

  countNew(runId: number, names: readonly string[]): number {
    return this.tail(runId).catalog.countNew(names);
  }

  appendSteps(runId: number, steps: readonly StepPoints[]): void {
    const t = this.tail(runId);
    for (const p of steps) {
      const slots = p.names.map((n) => this.ensure(runId, t, n, true));
      const width = slots.reduce((m, r) => Math.max(m, r.slot + 1), 0);
      const row = newRow(width);
      for (let j = 0; j < slots.length; j++) {
        const s = slots[j] as SeriesRow;
        const v = p.values[j] as number;
        setValue(row.f64, row.u32, s.slot, v);
        this.noteNonFinite(s, p.step, v);
      }
      this.repo.insertStep(runId, p.step, p.time ?? null, p.epoch ?? null, p.examples ?? null, rowToBuffer(row.f64, row.u32));
      if (++t.tailCount >= CHUNK_ROWS) {
        this.chunks.seal(runId, t.catalog.idBySlot);
        t.tailCount = 0;
      }
    }
  }

  appendEval(runId: number, step: number, names: readonly string[], values: readonly number[]): void {
    const t = this.tail(runId);
    for (let j = 0; j < names.length; j++) {
      const s = this.ensure(runId, t, names[j] as string, false);
      const v = values[j] as number;
      this.repo.upsertEval(s.id, step, v);
      this.noteNonFinite(s, step, v);
    }
  }

  appendHist(runId: number, h: HistPoints): void {
    this.repo.insertHist(runId, h.step, h.layer, h.of, h.edges, h.counts);
  }

  rewind(runId: number, step: number): void {
    this.chunks.rewind(runId, step);
    this.tails.delete(runId);
  }

  deleteRun(runId: number): void {
    this.repo.deleteRunPoints(runId);
    this.tails.delete(runId);
  }

  forget(runId: number): void {
    this.tails.delete(runId);
  }

  series(runId: number): SeriesRow[] {
    return this.repo.seriesOfRun(runId);
  }

  seriesInfo(runId: number): SeriesInfo[] {
    return this.reader.seriesInfo(runId, this.repo.seriesOfRun(runId));
  }

  query(runId: number, series: SeriesRow[], lo: number, hi: number, maxPoints: number): SeriesQueryResult[] {
    return this.reader.query(runId, series, lo, hi, maxPoints);
  }

  points(runId: number, s: SeriesRow): Generator<[number, number]> {
    return this.reader.points(runId, s);
  }

  extent(runId: number): StepRange {
    return this.repo.extent(runId);
  }

  stepRangeFor(runId: number, x: 'time' | 'epoch', from: number, to: number): StepRange {
    return this.repo.stepRangeFor(runId, x, from, to);
  }

  stepTimes(runId: number, lo: number, hi: number, limit: number): Array<{ step: number; time: number | null; epoch: number | null }> {
    return this.repo.stepTimes(runId, lo, hi, limit);
  }

  stepCount(runId: number): number {
    return this.repo.stepCount(runId);
  }

  histograms(runId: number, layer: string | null, of: string | null, lo: number, hi: number, limit: number): HistPoints[] {
    return this.repo.histograms(runId, layer, of, lo, hi, limit).map((r) => ({
      step: r.step, layer: r.layer, of: r.of, edges: JSON.parse(r.edges) as number[], counts: JSON.parse(r.counts) as number[],
    }));
  }
}
