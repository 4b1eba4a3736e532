import type { SeriesRow } from './points.repo.js';

/** A step shape resolved: the series of each name, and the packed row width they need. */
export interface ResolvedNames {
  rows: readonly SeriesRow[];
  width: number;
}

/** A run's series by name and their slots in packed step rows; memory only, the store persists. */
export class SeriesCatalog {
  private readonly byName = new Map<string, SeriesRow>();
  private readonly idBySlotMap = new Map<number, number>();
  private nextSlotValue = 0;
  /**
   * Keyed by names array: the decoder hands consecutive steps of one shape the same array, so a
   * thousand-series step is looked up name by name once, not at every step.
   */
  private readonly resolved = new WeakMap<readonly string[], ResolvedNames>();

  constructor(rows: readonly SeriesRow[]) {
    for (const r of rows) this.add(r);
  }

  add(r: SeriesRow): void {
    this.byName.set(r.name, r);
    if (r.slot >= 0) {
      this.idBySlotMap.set(r.slot, r.id);
      this.nextSlotValue = Math.max(this.nextSlotValue, r.slot + 1);
    }
  }

  get size(): number {
    return this.byName.size;
  }

  /** The slot a new packed series gets. */
  get nextSlot(): number {
    return this.nextSlotValue;
  }

  get idBySlot(): ReadonlyMap<number, number> {
    return this.idBySlotMap;
  }

  get(name: string): SeriesRow | undefined {
    return this.byName.get(name);
  }

  all(): IterableIterator<SeriesRow> {
    return this.byName.values();
  }

  /** The series of these names when every one is known, undefined otherwise. */
  rowsOf(names: readonly string[]): ResolvedNames | undefined {
    const hit = this.resolved.get(names);
    if (hit) return hit;
    const rows: SeriesRow[] = [];
    let width = 0;
    for (const name of names) {
      const r = this.byName.get(name);
      if (!r) return undefined;
      rows.push(r);
      if (r.slot >= width) width = r.slot + 1;
    }
    const out = { rows, width };
    this.resolved.set(names, out);
    return out;
  }

  /** New names among these; an upper bound across several calls (a name may repeat). */
  countNew(names: readonly string[]): number {
    if (this.resolved.has(names)) return 0;
    let n = 0;
    for (const name of names) if (!this.byName.has(name)) n++;
    return n;
  }
}
