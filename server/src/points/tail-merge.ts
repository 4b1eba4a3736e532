import type { SeriesInfo } from '@gradwatch/shared';
import type { Bucketizer } from './buckets.js';
import { f64View, readSlot } from './packed.js';
import type { SeriesRow } from './points.repo.js';

export const isEvalSeries = (name: string): boolean => name.startsWith('eval/');

/** A packed tail row as both backends hand it back. */
export interface TailRow {
  step: number;
  vals: Buffer;
}

/** One pass over the tail rows serves every requested series; tail steps follow all chunks. */
export function bucketTail(rows: Iterable<TailRow>, stream: readonly SeriesRow[], sizers: ReadonlyMap<number, Bucketizer>): void {
  for (const row of rows) {
    const f = f64View(row.vals);
    for (const s of stream) {
      const v = readSlot(f, s.slot);
      if (v !== undefined) sizers.get(s.id)?.add(row.step, v);
    }
  }
}

export interface SeriesTotal {
  id: number;
  n: number;
  first: number;
  last: number;
}

/** Series counts and step spans: the sealed and eval totals, plus the tail rows counted here. */
export function seriesInfoOf(series: readonly SeriesRow[], totalRows: Iterable<SeriesTotal>, tail: Iterable<TailRow>): SeriesInfo[] {
  const totals = new Map<number, { n: number; first: number; last: number }>();
  for (const t of totalRows) totals.set(t.id, t);
  const bySlot = new Map(series.filter((s) => !isEvalSeries(s.name)).map((s) => [s.slot, s]));
  for (const row of tail) {
    const f = f64View(row.vals);
    for (const [slot, s] of bySlot) {
      if (readSlot(f, slot) === undefined) continue;
      const t = totals.get(s.id);
      if (t) {
        t.n++;
        t.last = row.step;
      } else totals.set(s.id, { n: 1, first: row.step, last: row.step });
    }
  }
  return series.map((s) => {
    const t = totals.get(s.id);
    return { name: s.name, count: t?.n ?? 0, firstStep: t?.first ?? null, lastStep: t?.last ?? null, firstNonFiniteStep: s.firstNonFiniteStep };
  });
}
