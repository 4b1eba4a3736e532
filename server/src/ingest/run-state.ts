import type { ModelView, RunEngine, RuleSettings } from '../rules/types.js';
import type { PointsRepo, SeriesRow } from '../storage/points.repo.js';
import type { LayerOrder } from './decode.js';

/** A run's series and their slots in packed step rows. */
export class SeriesCatalog {
  private readonly byName = new Map<string, SeriesRow>();
  readonly idBySlot = new Map<number, number>();
  private nextSlot = 0;

  constructor(rows: SeriesRow[]) {
    for (const r of rows) this.add(r);
  }

  private add(r: SeriesRow): void {
    this.byName.set(r.name, r);
    if (r.slot >= 0) {
      this.idBySlot.set(r.slot, r.id);
      this.nextSlot = Math.max(this.nextSlot, r.slot + 1);
    }
  }

  get size(): number {
    return this.byName.size;
  }

  get(name: string): SeriesRow | undefined {
    return this.byName.get(name);
  }

  /** New names among these; an upper bound across several calls (a name may repeat). */
  countNew(names: readonly string[]): number {
    let n = 0;
    for (const name of names) if (!this.byName.has(name)) n++;
    return n;
  }

  /** Finds or creates a series; eval series live outside packed rows and get no slot. */
  ensure(repo: PointsRepo, runId: number, name: string, packed: boolean): SeriesRow {
    const found = this.byName.get(name);
    if (found) return found;
    const slot = packed ? this.nextSlot : -1;
    const row: SeriesRow = { id: repo.insertSeries(runId, name, slot), name, slot, first_nonfinite_step: null };
    this.add(row);
    return row;
  }

}

export interface Peer {
  readonly id: number;
  send(msg: object): void;
  close(code: number, reason: string): void;
}

/** What the ingest path keeps in memory for one run between messages. */
export class RunState {
  /** Highest seq accepted into the write queue; lastSeq is the highest committed. */
  acceptedSeq: number;
  /** Highest step written (pending included); steps must exceed it. */
  lastStep: number | null;
  tailCount: number;
  model: ModelView | null = null;
  order: LayerOrder = { first: null, last: null, frozen: new Set(), names: new Map() };
  owner: Peer | null = null;

  constructor(
    readonly id: number,
    readonly uid: string,
    readonly projectId: number,
    readonly project: string,
    public lastSeq: number,
    lastStep: number | null,
    public catalog: SeriesCatalog,
    tailCount: number,
    public engine: RunEngine,
    public ruleSettings: Record<string, Partial<RuleSettings>>,
  ) {
    this.acceptedSeq = lastSeq;
    this.lastStep = lastStep;
    this.tailCount = tailCount;
  }

  setModel(model: ModelView): void {
    this.model = model;
    const layers = model.layers;
    this.order = {
      first: layers[0]?.name ?? null,
      last: layers[layers.length - 1]?.name ?? null,
      frozen: new Set(layers.filter((l) => l.trainable === false).map((l) => l.name)),
      names: this.order.names,
    };
  }
}
