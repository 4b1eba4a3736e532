import type { SeriesRow } from './points.repo.js';

/** A run's series by name and their slots in packed step rows; memory only, the store persists. */
export class SeriesCatalog {
  private readonly byName = new Map<string, SeriesRow>();
  private readonly idBySlotMap = new Map<number, number>();
  private nextSlotValue = 0;

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

  /** New names among these; an upper bound across several calls (a name may repeat). */
  countNew(names: readonly string[]): number {
    let n = 0;
    for (const name of names) if (!this.byName.has(name)) n++;
    return n;
  }
}
