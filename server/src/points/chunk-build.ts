import { Envelope, kindOf } from './buckets.js';
import { decodeSteps, decodeVals } from './chunk-codec.js';
import { f64View, newRow, readSlot, rowToBuffer, setValue } from './packed.js';
import type { ChunkInsert, StraddlingChunk } from './points.repo.js';
import type { TailEntry } from './step-block-codec.js';
import type { TailRow } from './tail-merge.js';

/** The points of one series taken out of packed rows, in step order. */
export interface SeriesPoints {
  seriesId: number;
  /** Its place in the packed rows (-1 when the points do not come from them). */
  slot: number;
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
    if (seriesId !== undefined) out.push({ seriesId, slot, ...s });
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
  return { seriesId: c.seriesId, slot: -1, steps: steps.slice(0, keep), vals: Array.from(decodeVals(c.vals, c.count)).slice(0, keep) };
}

/**
 * A series with fewer points than this in the tail stays there at a seal: a layer logged every
 * 100th step would otherwise make a chunk of one or two points (three statements on SQLite) at
 * every seal.
 */
export const MIN_CHUNK_POINTS = 32;

/**
 * What a seal writes: the series to put in chunks, and the sparse ones' points packed again as
 * tail rows (unless they would need more than maxRows rows: then every series is sealed). A
 * series' tail points still all follow its chunks, which every read relies on. The kept rows'
 * steps are indexed by the seal's step block already.
 */
export function holdSparse(series: readonly SeriesPoints[], maxRows: number): { seal: SeriesPoints[]; kept: TailEntry[] } {
  const held = series.filter((s) => s.steps.length < MIN_CHUNK_POINTS);
  const widths = new Map<number, number>();
  for (const s of held) for (const step of s.steps) widths.set(step, Math.max(widths.get(step) ?? 0, s.slot + 1));
  if (held.length === 0 || widths.size > maxRows) return { seal: [...series], kept: [] };
  const rows = new Map([...widths].sort((a, b) => a[0] - b[0]).map(([step, width]) => [step, newRow(width)]));
  for (const s of held) {
    for (let i = 0; i < s.steps.length; i++) {
      const row = rows.get(s.steps[i] as number);
      if (row) setValue(row.f64, row.u32, s.slot, s.vals[i] as number);
    }
  }
  const keep = new Set(held);
  return { seal: series.filter((s) => !keep.has(s)), kept: [...rows].map(([step, r]) => ({ step, vals: rowToBuffer(r.f64, r.u32), time: null, epoch: null, examples: null, indexed: true })) };
}
