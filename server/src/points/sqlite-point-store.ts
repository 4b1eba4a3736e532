import type { SeriesInfo } from '@gradwatch/shared';
import { CHUNK_ROWS, ChunkWriter, firstSealAt } from './chunk-writer.js';
import { newRow, rowToBuffer, setValue } from './packed.js';
import { PointReader, type SeriesQueryResult } from './point-reader.js';
import { histPointsOf, unionRange, type HistPoints, type PointStore, type StepPoints, type StepRange } from './point-store.js';
import type { Db } from '../storage/db.js';
import { PointsRepo, type SeriesRow } from './points.repo.js';
import { SeriesCatalog, type ResolvedNames } from './series-catalog.js';
import { StepBlocksRepo } from './step-blocks.repo.js';
import { StepIndex, type TailEntry } from './step-index.js';
import { RunCache } from './run-cache.js';

/** What the store keeps in memory for a run being written: its series, and its tail rows as stored. */
interface RunTail {
  catalog: SeriesCatalog;
  rows: TailEntry[];
  /** Rows held back by a seal (sparse series) do not count towards the next one. */
  sealAt: number;
}

export function createSqlitePointStore(db: Db): SqlitePointStore {
  return new SqlitePointStore(new PointsRepo(db), new StepBlocksRepo(db));
}

/**
 * The SQLite point store: each step is one packed float64 row (one slot per series) in a tail
 * table; every CHUNK_ROWS steps the tail is sealed into per-series chunks with rollups over
 * them. Eval metrics, rare and unordered, live in a narrow table. The tail rows of a run being
 * written stay in memory, so a seal reads nothing back, and rows sealed in the call that wrote
 * them never go through the tail table.
 */
export class SqlitePointStore implements PointStore {
  private readonly tails = new RunCache<RunTail>();
  private readonly chunks: ChunkWriter;
  private readonly reader: PointReader;
  private readonly index: StepIndex;

  constructor(
    private readonly repo: PointsRepo,
    private readonly steps: StepBlocksRepo,
  ) {
    this.chunks = new ChunkWriter(repo, steps);
    this.reader = new PointReader(repo);
    this.index = new StepIndex(steps);
  }

  private tail(runId: number): RunTail {
    return this.tails.get(runId, () => ({ catalog: new SeriesCatalog(this.repo.seriesOfRun(runId)), rows: this.repo.tailEntries(runId), sealAt: firstSealAt(runId) }));
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

  private ensureAll(runId: number, t: RunTail, names: readonly string[]): ResolvedNames {
    for (const n of names) this.ensure(runId, t, n, true);
    return t.catalog.rowsOf(names) as ResolvedNames;
  }

  private noteNonFinite(s: SeriesRow, step: number, v: number): void {
    if (Number.isFinite(v) || s.firstNonFiniteStep !== null) return;
    s.firstNonFiniteStep = step;
    this.repo.markNonFinite(s.id, step);
  }

  async seriesCount(runId: number): Promise<number> {
    return this.tail(runId).catalog.size;
  }

  async countNew(runId: number, names: readonly string[]): Promise<number> {
    return this.tail(runId).catalog.countNew(names);
  }

  async appendSteps(runId: number, steps: readonly StepPoints[]): Promise<void> {
    try {
      this.writeSteps(runId, this.tail(runId), steps);
    } catch (e) {
      // Memory may be ahead of what the rolled-back statements left: read it again next time.
      this.tails.delete(runId);
      throw e;
    }
  }

  private writeSteps(runId: number, t: RunTail, steps: readonly StepPoints[]): void {
    let pending: TailEntry[] = [];
    let dropStored = false;
    for (const p of steps) {
      const { rows: slots, width } = t.catalog.rowsOf(p.names) ?? this.ensureAll(runId, t, p.names);
      const row = newRow(width);
      for (let j = 0; j < slots.length; j++) {
        const s = slots[j] as SeriesRow;
        const v = p.values[j] as number;
        setValue(row.f64, row.u32, s.slot, v);
        this.noteNonFinite(s, p.step, v);
      }
      const r: TailEntry = {
        step: p.step, vals: rowToBuffer(row.f64, row.u32), time: p.time ?? null, epoch: p.epoch ?? null, examples: p.examples ?? null, indexed: false,
      };
      t.rows.push(r);
      pending.push(r);
      if (t.rows.length >= t.sealAt) {
        const kept = this.chunks.seal(runId, t.rows, t.catalog.idBySlot);
        if (t.rows.length > pending.length) dropStored = true;
        t.rows = kept;
        pending = [...kept];
        t.sealAt = kept.length + CHUNK_ROWS;
      }
    }
    if (dropStored) this.repo.deleteTail(runId);
    for (const r of pending) {
      if (r.indexed) this.repo.insertTail(runId, r.step, r.vals);
      else this.repo.insertStep(runId, r.step, r.time, r.epoch, r.examples, r.vals);
    }
  }

  async appendEval(runId: number, step: number, names: readonly string[], values: readonly number[]): Promise<void> {
    const t = this.tail(runId);
    for (let j = 0; j < names.length; j++) {
      const s = this.ensure(runId, t, names[j] as string, false);
      const v = values[j] as number;
      this.repo.upsertEval(s.id, step, v);
      this.noteNonFinite(s, step, v);
    }
  }

  async appendHists(runId: number, hs: readonly HistPoints[]): Promise<void> {
    for (const h of hs) this.repo.insertHist(runId, h.step, h.layer, h.of, h.edges, h.counts);
  }

  async rewind(runId: number, step: number): Promise<void> {
    this.chunks.rewind(runId, step);
    this.tails.delete(runId);
  }

  async deleteRun(runId: number): Promise<void> {
    this.repo.deleteRunPoints(runId);
    this.steps.deleteRun(runId);
    this.tails.delete(runId);
  }

  forget(runId: number): void {
    this.tails.delete(runId);
  }

  async series(runId: number): Promise<SeriesRow[]> {
    return this.repo.seriesOfRun(runId);
  }

  async seriesInfo(runId: number): Promise<SeriesInfo[]> {
    return this.reader.seriesInfo(runId, this.repo.seriesOfRun(runId));
  }

  async query(runId: number, series: SeriesRow[], lo: number, hi: number, maxPoints: number): Promise<SeriesQueryResult[]> {
    return this.reader.query(runId, series, lo, hi, maxPoints);
  }

  async *points(runId: number, s: SeriesRow): AsyncGenerator<[number, number]> {
    yield* this.reader.points(runId, s);
  }

  async extent(runId: number): Promise<StepRange> {
    return unionRange(this.steps.ends(runId), this.repo.evalExtent(runId));
  }

  async stepRangeFor(runId: number, x: 'time' | 'epoch', from: number, to: number): Promise<StepRange> {
    return this.index.stepRangeFor(runId, x, from, to);
  }

  async stepTimes(runId: number, lo: number, hi: number, limit: number): Promise<Array<{ step: number; time: number | null; epoch: number | null }>> {
    return this.index.stepTimes(runId, lo, hi, limit);
  }

  async stepCount(runId: number): Promise<number> {
    return this.steps.count(runId);
  }

  async histograms(runId: number, layer: string | null, of: string | null, lo: number, hi: number, limit: number): Promise<HistPoints[]> {
    return this.repo.histograms(runId, layer, of, lo, hi, limit).map(histPointsOf);
  }
}
