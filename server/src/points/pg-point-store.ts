import type { SeriesInfo } from '@gradwatch/shared';
import type { PgDb } from '../storage/pg.js';
import { CHUNK_ROWS, firstSealAt } from './chunk-writer.js';
import { newRow, rowToBuffer, setValue } from './packed.js';
import { SealBatch, rewindPg } from './pg-chunk-writer.js';
import { PgPointReader } from './pg-point-reader.js';
import { PgPointsRepo } from './pg-points.repo.js';
import { PgStepBlocksRepo } from './pg-step-blocks.repo.js';
import { RunCache } from './run-cache.js';
import type { SeriesQueryResult } from './point-reader.js';
import { histPointsOf, unionRange, type HistPoints, type PointStore, type StepPoints, type StepRange } from './point-store.js';
import type { SeriesRow } from './points.repo.js';
import { SeriesCatalog, type ResolvedNames } from './series-catalog.js';
import { StepIndex, type TailEntry } from './step-index.js';

/** What the store keeps in memory for a run being written: its series, and its tail rows as stored. */
interface RunTail {
  catalog: SeriesCatalog;
  rows: TailEntry[];
  /** Rows held back by a seal (sparse series) do not count towards the next one. */
  sealAt: number;
}

export function createPgPointStore(db: PgDb): PointStore {
  return new PgPointStore(new PgPointsRepo(db), new PgStepBlocksRepo(db), db);
}

/**
 * The PostgreSQL point store: the SQLite store's layout (packed step rows in a tail table,
 * sealed every CHUNK_ROWS steps into per-series chunks with rollups, eval points apart), written
 * a message at a time: one appendSteps is a few statements whatever its number of steps. The
 * tail rows of a run being written stay in memory, so sealing reads nothing back.
 */
export class PgPointStore implements PointStore {
  private readonly tails = new RunCache<Promise<RunTail>>();
  private readonly reader: PgPointReader;
  private readonly index: StepIndex;

  constructor(
    private readonly repo: PgPointsRepo,
    private readonly steps: PgStepBlocksRepo,
    /** For later(): inside an ingest batch the writes are pipelined, not waited for one by one. */
    private readonly db: Pick<PgDb, 'later'>,
  ) {
    this.reader = new PgPointReader(repo);
    this.index = new StepIndex(steps);
  }

  private tail(runId: number): Promise<RunTail> {
    return this.tails.get(runId, () => {
      const loading = Promise.all([this.repo.seriesOfRun(runId), this.repo.tailEntries(runId)]).then(([series, rows]) => ({ catalog: new SeriesCatalog(series), rows, sealAt: firstSealAt(runId) }));
      loading.catch(() => this.tails.peek(runId) === loading && this.tails.delete(runId));
      return loading;
    });
  }

  /** Creates the series among `names` not known yet, in one statement; eval series get no slot. */
  private async ensure(runId: number, t: RunTail, names: readonly (readonly string[])[], packed: boolean): Promise<void> {
    const fresh = new Set<string>();
    for (const list of names) {
      if (t.catalog.rowsOf(list)) continue;
      for (const n of list) if (!t.catalog.get(n)) fresh.add(n);
    }
    if (fresh.size === 0) return;
    const list = [...fresh];
    const slots = list.map((_, i) => (packed ? t.catalog.nextSlot + i : -1));
    for (const row of await this.repo.insertSeries(runId, list, slots)) t.catalog.add(row);
  }

  async seriesCount(runId: number): Promise<number> {
    return (await this.tail(runId)).catalog.size;
  }

  async countNew(runId: number, names: readonly string[]): Promise<number> {
    return (await this.tail(runId)).catalog.countNew(names);
  }

  async appendSteps(runId: number, steps: readonly StepPoints[]): Promise<void> {
    try {
      await this.writeSteps(runId, await this.tail(runId), steps);
    } catch (e) {
      // Memory may be ahead of what the rolled-back statements left: read it again next time.
      this.tails.delete(runId);
      throw e;
    }
  }

  private async writeSteps(runId: number, t: RunTail, steps: readonly StepPoints[]): Promise<void> {
    await this.ensure(runId, t, steps.map((p) => p.names), true);
    const nonFinite = new NonFinite();
    const batch = new SealBatch();
    let pending: TailEntry[] = [];
    let dropStored = false;
    for (const p of steps) {
      const { rows: slots, width } = t.catalog.rowsOf(p.names) as ResolvedNames;
      const row = newRow(width);
      for (let j = 0; j < slots.length; j++) {
        const s = slots[j] as SeriesRow;
        const v = p.values[j] as number;
        setValue(row.f64, row.u32, s.slot, v);
        nonFinite.note(s, p.step, v);
      }
      const r: TailEntry = {
        step: p.step, vals: rowToBuffer(row.f64, row.u32), time: p.time ?? null, epoch: p.epoch ?? null, examples: p.examples ?? null, indexed: false,
      };
      t.rows.push(r);
      pending.push(r);
      if (t.rows.length >= t.sealAt) {
        const kept = batch.seal(t.rows, t.catalog.idBySlot);
        // Rows sealed in this same call never go through the tail table; earlier ones are dropped.
        if (t.rows.length > pending.length) dropStored = true;
        t.rows = [...kept];
        pending = [...kept];
        t.sealAt = kept.length + CHUNK_ROWS;
      }
    }
    // The tail in memory is ahead of the table until this lands; if it fails, the transaction
    // fails and the batch's runs are forgotten (appendSteps, or the ingest batch's undo).
    // One connection runs them in this order: the stored tail goes before rows a seal kept come back.
    const drop = dropStored ? [this.repo.deleteTail(runId)] : [];
    await this.db.later(Promise.all([...drop, this.repo.insertTail(runId, pending), batch.write(this.repo, this.steps, runId), nonFinite.write(this.repo)]));
  }

  async appendEval(runId: number, step: number, names: readonly string[], values: readonly number[]): Promise<void> {
    try {
      const t = await this.tail(runId);
      await this.ensure(runId, t, [names], false);
      const nonFinite = new NonFinite();
      // One row per series: a name given twice keeps its last value, as successive upserts would.
      const byId = new Map<number, number>();
      for (let j = 0; j < names.length; j++) {
        const s = t.catalog.get(names[j] as string) as SeriesRow;
        const v = values[j] as number;
        byId.set(s.id, v);
        nonFinite.note(s, step, v);
      }
      await Promise.all([this.repo.upsertEval([...byId.keys()], step, [...byId.values()]), nonFinite.write(this.repo)]);
    } catch (e) {
      this.tails.delete(runId);
      throw e;
    }
  }

  async appendHists(runId: number, hs: readonly HistPoints[]): Promise<void> {
    // One upsert may not touch a row twice: the last of duplicates wins, as one by one it would.
    const byKey = new Map<string, HistPoints>();
    for (const h of hs) {
      const k = `${h.step}\u0000${h.of}\u0000${h.layer}`;
      byKey.delete(k);
      byKey.set(k, h);
    }
    await this.db.later(this.repo.insertHists(runId, [...byKey.values()]));
  }

  async rewind(runId: number, step: number): Promise<void> {
    this.tails.delete(runId);
    try {
      await rewindPg(this.repo, this.steps, runId, step);
    } finally {
      this.tails.delete(runId);
    }
  }

  async deleteRun(runId: number): Promise<void> {
    this.tails.delete(runId);
    try {
      await this.repo.deleteRunPoints(runId);
    } finally {
      this.tails.delete(runId);
    }
  }

  forget(runId: number): void {
    this.tails.delete(runId);
  }

  async series(runId: number): Promise<SeriesRow[]> {
    return this.repo.seriesOfRun(runId);
  }

  async seriesInfo(runId: number): Promise<SeriesInfo[]> {
    return this.reader.seriesInfo(runId, await this.repo.seriesOfRun(runId));
  }

  async query(runId: number, series: SeriesRow[], lo: number, hi: number, maxPoints: number): Promise<SeriesQueryResult[]> {
    return this.reader.query(runId, series, lo, hi, maxPoints);
  }

  async *points(runId: number, s: SeriesRow): AsyncGenerator<[number, number]> {
    yield* this.reader.points(runId, s);
  }

  async extent(runId: number): Promise<StepRange> {
    const [steps, evals] = await Promise.all([this.steps.ends(runId), this.repo.evalExtent(runId)]);
    return unionRange(steps, evals);
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
    return (await this.repo.histograms(runId, layer, of, lo, hi, limit)).map(histPointsOf);
  }
}

/** First non-finite steps noted during one write, stored in one statement. */
class NonFinite {
  private readonly first = new Map<number, number>();

  note(s: SeriesRow, step: number, v: number): void {
    if (Number.isFinite(v) || s.firstNonFiniteStep !== null) return;
    s.firstNonFiniteStep = step;
    this.first.set(s.id, step);
  }

  async write(repo: PgPointsRepo): Promise<void> {
    if (this.first.size > 0) await repo.markNonFinite([...this.first.keys()], [...this.first.values()]);
  }
}
