/**
 * A chunk's steps as delta-of-deltas, after Facebook's Gorilla (Pelkonen et al., VLDB 2015): one
 * bit a step when steps are evenly spaced, instead of a float64. Values stay raw so that a read
 * is a view or one typed-array copy: XOR-compressed values halved their bytes again but made
 * every chunk read point by point 2.6x slower (bench/query), which the query path cannot afford.
 * Raw float32 when every value of the chunk is one exactly (a float32 tensor's loss.item(), and
 * NaN, ±Infinity), float64 otherwise; the blob's length (count × 4 or count × 8) says which.
 *
 * A steps blob is either this encoding or (chunks written before it) raw float64s. The raw form
 * is exactly count × 8 bytes long; an encoding that happens to have that length gets one padding
 * byte, so the length alone tells them apart and no chunk needs rewriting.
 */
import { BitReader, BitWriter } from './bit-stream.js';
import { f64Buffer, f64View } from './packed.js';

/** A sealed chunk's points as stored: its steps (this encoding) and its values (raw float32 or float64). */
export interface ChunkBlobs {
  steps: Buffer;
  vals: Buffer;
}

const TWO32 = 2 ** 32;

/** A non-negative safe integer in 53 bits. */
export function writeSafeInt(w: BitWriter, v: number): void {
  w.write(Math.floor(v / TWO32), 21);
  w.write(v % TWO32, 32);
}

export function readSafeInt(r: BitReader): number {
  const hi = r.read(21);
  return hi * TWO32 + r.read(32);
}

function writeDod(w: BitWriter, dod: number): void {
  if (dod === 0) return w.write(0, 1);
  if (dod >= -64 && dod <= 63) return (w.write(0b10, 2), w.write(dod & 0x7f, 7));
  if (dod >= -256 && dod <= 255) return (w.write(0b110, 3), w.write(dod & 0x1ff, 9));
  if (dod >= -2048 && dod <= 2047) return (w.write(0b1110, 4), w.write(dod & 0xfff, 12));
  w.write(0b1111, 4);
  w.write(dod < 0 ? 1 : 0, 1);
  writeSafeInt(w, Math.abs(dod));
}

/** A `bits`-wide two's-complement field read back as a number. */
export const signed = (v: number, bits: number): number => (v >= 2 ** (bits - 1) ? v - 2 ** bits : v);

function readDod(r: BitReader): number {
  if (r.bit() === 0) return 0;
  if (r.bit() === 0) return signed(r.read(7), 7);
  if (r.bit() === 0) return signed(r.read(9), 9);
  if (r.bit() === 0) return signed(r.read(12), 12);
  const neg = r.bit() === 1;
  const m = readSafeInt(r);
  return neg ? -m : m;
}

/** The blob for one chunk, never count × 8 bytes long (that length means raw float64s). */
function seal(bytes: Uint8Array, count: number): Buffer {
  const out = Buffer.alloc(bytes.length + (bytes.length === count * 8 ? 1 : 0));
  out.set(bytes);
  return out;
}

export function encodeSteps(steps: ArrayLike<number>): Buffer {
  const w = new BitWriter();
  let prev = 0;
  let delta = 0;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i] as number;
    if (i === 0) writeSafeInt(w, s);
    else {
      const d = s - prev;
      writeDod(w, d - delta);
      delta = d;
    }
    prev = s;
  }
  return seal(w.finish(), steps.length);
}

export function decodeSteps(blob: Buffer, count: number): Float64Array {
  if (blob.length === count * 8) return f64View(blob);
  const r = new BitReader(blob);
  const out = new Float64Array(count);
  let delta = 0;
  for (let i = 0; i < count; i++) {
    if (i === 0) out[0] = readSafeInt(r);
    else {
      delta += readDod(r);
      out[i] = (out[i - 1] as number) + delta;
    }
  }
  return out;
}

/** A chunk's values, as float32 when that keeps every one of them exactly. */
export function encodeVals(vals: readonly number[]): Buffer {
  for (const v of vals) if (Math.fround(v) !== v && v === v) return f64Buffer(vals as number[]);
  const f32 = Float32Array.from(vals);
  return Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength);
}

/** A chunk's values; a float32 chunk is read as it is stored (each value widens exactly). */
export function decodeVals(blob: Buffer, count: number): Float32Array | Float64Array {
  if (blob.length !== count * 4) return f64View(blob);
  return blob.byteOffset % 4 === 0 ? new Float32Array(blob.buffer, blob.byteOffset, count) : new Float32Array(new Uint8Array(blob).buffer);
}
