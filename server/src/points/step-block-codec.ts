/**
 * A block of a run's step index (its steps with their time, epoch and examples) as one blob, so
 * that the index costs a few bytes a step instead of a row and an index entry. Steps are
 * delta-of-deltas as in chunks. Each other column is, when every value in it is a decimal with
 * at most 7 digits after the point (a time in microseconds, a whole epoch, a count), the
 * delta-of-deltas of those integers, exact by construction; otherwise raw float64. Nulls are a
 * bitmap, and an all-null column costs two bits.
 *
 * Blocks converted from the row-per-step index (migration 0008) are text instead,
 * "step,time,epoch,examples;..." with empty fields for nulls and 17 significant digits, which
 * SQL could write; a binary block starts with a byte no such text starts with.
 */
import { BitReader, BitWriter } from './bit-stream.js';
import { readSafeInt, signed, writeSafeInt } from './chunk-codec.js';

/** A step's index entry: its x-axis values besides the step. */
export interface StepIndexRow {
  step: number;
  time: number | null;
  epoch: number | null;
  examples: number | null;
}

/** A tail row as stored (a TailRow with more): its step's index entry, and whether a block holds it already. */
export interface TailEntry extends StepIndexRow {
  vals: Buffer;
  indexed: boolean;
}

const BINARY_V1 = 1;
const MAX_SCALE = 7;
/** Scaled integers stay below 2^51 in magnitude, so that their delta-of-deltas stay below 2^53. */
const MAX_SCALED = 2 ** 51;
const COLUMNS = ['time', 'epoch', 'examples'] as const;
const MODE_NULL = 0;
const MODE_SCALED = 1;
const MODE_RAW = 2;

function writeSigned(w: BitWriter, v: number): void {
  w.write(v < 0 ? 1 : 0, 1);
  writeSafeInt(w, Math.abs(v));
}

function readSigned(r: BitReader): number {
  const neg = r.bit() === 1;
  const m = readSafeInt(r);
  return neg ? -m : m;
}

/** Wider buckets than the steps': wall-clock microseconds jitter by thousands. */
function writeDod(w: BitWriter, d: number): void {
  if (d === 0) return w.write(0, 1);
  if (d >= -64 && d <= 63) return (w.write(0b10, 2), w.write(d & 0x7f, 7));
  if (d >= -2048 && d <= 2047) return (w.write(0b110, 3), w.write(d & 0xfff, 12));
  if (d >= -(2 ** 19) && d < 2 ** 19) return (w.write(0b1110, 4), w.write(d & 0xfffff, 20));
  w.write(0b1111, 4);
  writeSigned(w, d);
}

function readDod(r: BitReader): number {
  if (r.bit() === 0) return 0;
  if (r.bit() === 0) return signed(r.read(7), 7);
  if (r.bit() === 0) return signed(r.read(12), 12);
  if (r.bit() === 0) return signed(r.read(20), 20);
  return readSigned(r);
}

/** The power of ten that makes every value an exact integer within bounds, or -1. */
function scaleOf(vals: readonly number[]): number {
  for (let e = 0; e <= MAX_SCALE; e++) {
    const p = 10 ** e;
    const fits = vals.every((v) => {
      const n = Math.round(v * p);
      return Math.abs(n) < MAX_SCALED && n / p === v && !Object.is(v, -0);
    });
    if (fits) return e;
  }
  return -1;
}

function writeColumn(w: BitWriter, col: ReadonlyArray<number | null>): void {
  const vals = col.filter((v): v is number => v !== null);
  if (vals.length === 0) return w.write(MODE_NULL, 2);
  const e = scaleOf(vals);
  w.write(e < 0 ? MODE_RAW : MODE_SCALED, 2);
  const holes = vals.length < col.length;
  w.write(holes ? 1 : 0, 1);
  if (holes) for (const v of col) w.write(v === null ? 0 : 1, 1);
  if (e < 0) {
    const bits = new DataView(new ArrayBuffer(8));
    for (const v of vals) {
      bits.setFloat64(0, v);
      w.write(bits.getUint32(0), 32);
      w.write(bits.getUint32(4), 32);
    }
    return;
  }
  w.write(e, 3);
  const p = 10 ** e;
  let prev = 0;
  let delta = 0;
  for (let i = 0; i < vals.length; i++) {
    const n = Math.round((vals[i] as number) * p);
    if (i === 0) writeSigned(w, n);
    else {
      writeDod(w, n - prev - delta);
      delta = n - prev;
    }
    prev = n;
  }
}

function readColumn(r: BitReader, count: number): Array<number | null> {
  const out = new Array<number | null>(count).fill(null);
  const mode = r.read(2);
  if (mode === MODE_NULL) return out;
  const present: number[] = [];
  if (r.bit() === 1) {
    for (let i = 0; i < count; i++) if (r.bit() === 1) present.push(i);
  } else for (let i = 0; i < count; i++) present.push(i);
  if (mode === MODE_RAW) {
    const bits = new DataView(new ArrayBuffer(8));
    for (const i of present) {
      bits.setUint32(0, r.read(32));
      bits.setUint32(4, r.read(32));
      out[i] = bits.getFloat64(0);
    }
    return out;
  }
  const p = 10 ** r.read(3);
  let n = 0;
  let delta = 0;
  present.forEach((i, k) => {
    if (k === 0) n = readSigned(r);
    else {
      delta += readDod(r);
      n += delta;
    }
    out[i] = n / p;
  });
  return out;
}

/** One block's blob; rows in step order, at least one. */
export function encodeStepBlock(rows: readonly StepIndexRow[]): Buffer {
  const w = new BitWriter();
  let prev = 0;
  let delta = 0;
  rows.forEach((row, i) => {
    if (i === 0) writeSafeInt(w, row.step);
    else {
      writeDod(w, row.step - prev - delta);
      delta = row.step - prev;
    }
    prev = row.step;
  });
  for (const c of COLUMNS) writeColumn(w, rows.map((row) => row[c]));
  const bits = w.finish();
  const out = Buffer.alloc(bits.length + 1);
  out[0] = BINARY_V1;
  out.set(bits, 1);
  return out;
}

const field = (s: string | undefined): number | null => (s === undefined || s === '' ? null : Number(s));

function decodeText(text: string): StepIndexRow[] {
  return text.split(';').map((entry) => {
    const [step, time, epoch, examples] = entry.split(',');
    return { step: Number(step), time: field(time), epoch: field(epoch), examples: field(examples) };
  });
}

export function decodeStepBlock(blob: Buffer, count: number): StepIndexRow[] {
  if (blob[0] !== BINARY_V1) return decodeText(blob.toString('latin1'));
  const r = new BitReader(blob.subarray(1));
  const steps = new Array<number>(count);
  let delta = 0;
  for (let i = 0; i < count; i++) {
    if (i === 0) steps[0] = readSafeInt(r);
    else {
      delta += readDod(r);
      steps[i] = (steps[i - 1] as number) + delta;
    }
  }
  const [time, epoch, examples] = COLUMNS.map(() => readColumn(r, count)) as [Array<number | null>, Array<number | null>, Array<number | null>];
  return steps.map((step, i) => ({ step, time: time[i] ?? null, epoch: epoch[i] ?? null, examples: examples[i] ?? null }));
}
