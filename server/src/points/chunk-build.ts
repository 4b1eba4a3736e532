import { Envelope, kindOf } from './buckets.js';
import { decodeSteps } from './chunk-codec.js';
import { f64View, readSlot } from './packed.js';
import type { ChunkInsert, StraddlingChunk } from './points.repo.js';
import type { TailRow } from './tail-merge.js';

/** The points of one series taken out of packed rows, in step order. */
export interface SeriesPoints {
  seriesId: number;
  steps: number[];
  vals: number[];
}

/** Unpacks a run's tail rows into one point list per series that has values in them. */
export function splitRows(rows: Iterable<TailRow>, seriesBySlot: ReadonlyMap<number, number>): SeriesPoints[] {
  const bySlot = new Map<number, { steps: number[]; vals: number[] }>();
  for (const r of rows) {
    const f = f64View(r.vals);
    for (let slot = 0; slot < f.length; slot++) {
      const v = readSlot(f, slot);
      if (v === undefined) continue;
      let s = bySlot.get(slot);
      if (!s) bySlot.set(slot, (s = { steps: [], vals: [] }));
      s.steps.push(r.step);
      s.vals.push(v);
    }
  }
  const out: SeriesPoints[] = [];
  for (const [slot, s] of bySlot) {
    const seriesId = seriesBySlot.get(slot);
    if (seriesId !== undefined) out.push({ seriesId, ...s });
  }
  return out;
}

/** The summary row of a chunk: a non-finite last value is stored as NULL with its kind beside. */
export function summarize(seriesId: number, steps: readonly number[], vals: readonly number[]): ChunkInsert {
  const env = new Envelope();
  for (let i = 0; i < steps.length; i++) env.add(steps[i] as number, vals[i] as number);
  return {
    seriesId,
    startStep: env.fromStep,
    endStep: env.toStep,
    count: env.count,
    min: env.finiteMin,
    max: env.finiteMax,
    last: Number.isFinite(env.last) ? env.last : null,
    lastKind: kindOf(env.last),
    nan: env.nan,
    posInf: env.posInf,
    negInf: env.negInf,
  };
}

/** The points of a chunk that straddles a rewind step which stay (those before it); null if none. */
export function keptBefore(c: StraddlingChunk, step: number): SeriesPoints | null {
  const steps = Array.from(decodeSteps(c.steps, c.count));
  const keep = steps.findIndex((s) => s >= step);
  if (keep <= 0) return null;
  return { seriesId: c.seriesId, steps: steps.slice(0, keep), vals: Array.from(f64View(c.vals)).slice(0, keep) };
}
