import type { ChunkSummaryRow, RollupRow } from './points.repo.js';

/*
 * Chunk and rollup summaries cross the network packed: one bytea per requested range, a fixed
 * 64-byte record per summary (72 with the rollup window), big-endian as PostgreSQL's *send
 * functions write them. A query over a few hundred series reads a hundred thousand summaries;
 * as rows of eleven text columns they cost four times as much to send and parse.
 * min, max and last are finite or NULL in these tables (non-finite values are counted apart),
 * so NULL travels as NaN.
 */

const ENVELOPE = `int8send(count) || float8send(coalesce(min, 'NaN')) || float8send(coalesce(max, 'NaN'))
  || float8send(coalesce(last, 'NaN')) || int4send(last_kind) || int4send(nan) || int4send(pos_inf) || int4send(neg_inf)`;

/** The record of one chunk, in start order: string_agg(CHUNK_RECORD, ''::bytea ORDER BY start_step). */
export const CHUNK_RECORD = `int8send(start_step) || int8send(end_step) || ${ENVELOPE}`;
/** The record of one rollup window. */
export const ROLLUP_RECORD = `int8send("window") || int8send(from_step) || int8send(to_step) || ${ENVELOPE}`;

const CHUNK_BYTES = 64;
const ROLLUP_BYTES = 72;

const orNull = (v: number): number | null => (v !== v ? null : v);

const view = (b: Buffer): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

export function decodeChunkSummaries(blob: Buffer | null): ChunkSummaryRow[] {
  if (!blob) return [];
  const dv = view(blob);
  const out: ChunkSummaryRow[] = [];
  for (let o = 0; o + CHUNK_BYTES <= blob.length; o += CHUNK_BYTES) {
    out.push({
      startStep: Number(dv.getBigInt64(o)), endStep: Number(dv.getBigInt64(o + 8)), count: Number(dv.getBigInt64(o + 16)),
      min: orNull(dv.getFloat64(o + 24)), max: orNull(dv.getFloat64(o + 32)), last: orNull(dv.getFloat64(o + 40)),
      lastKind: dv.getInt32(o + 48), nan: dv.getInt32(o + 52), posInf: dv.getInt32(o + 56), negInf: dv.getInt32(o + 60),
    });
  }
  return out;
}

export function decodeRollups(blob: Buffer | null): RollupRow[] {
  if (!blob) return [];
  const dv = view(blob);
  const out: RollupRow[] = [];
  for (let o = 0; o + ROLLUP_BYTES <= blob.length; o += ROLLUP_BYTES) {
    out.push({
      window: Number(dv.getBigInt64(o)), startStep: Number(dv.getBigInt64(o + 8)), endStep: Number(dv.getBigInt64(o + 16)),
      count: Number(dv.getBigInt64(o + 24)), min: orNull(dv.getFloat64(o + 32)), max: orNull(dv.getFloat64(o + 40)),
      last: orNull(dv.getFloat64(o + 48)), lastKind: dv.getInt32(o + 56), nan: dv.getInt32(o + 60), posInf: dv.getInt32(o + 64), negInf: dv.getInt32(o + 68),
    });
  }
  return out;
}
