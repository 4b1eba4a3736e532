/**
 * Packed float64 rows and chunks. A slot that has no value in a step holds MISSING, a NaN
 * bit pattern that no stored NaN ever has: stored NaNs are written canonically. Bits are read
 * before the number, because a NaN read into a JS number may lose its payload.
 * Views use the platform byte order, which is little-endian on every target we support.
 */
const MISSING_WORD = 0xffffffff;
const CANONICAL_NAN_HI = 0x7ff80000;

/**
 * A row of `width` empty slots. Its bytes come from Node's Buffer pool, as small Buffers' do
 * (8-byte aligned), not from an ArrayBuffer of its own: a step's row is a few bytes, and an
 * ArrayBuffer apiece was a measurable share of ingest's garbage.
 */
export function newRow(width: number): { f64: Float64Array; u32: Uint32Array } {
  const buf = Buffer.allocUnsafe(width * 8);
  const f64 = buf.byteOffset % 8 === 0 ? new Float64Array(buf.buffer, buf.byteOffset, width) : new Float64Array(width);
  const u32 = new Uint32Array(f64.buffer, f64.byteOffset, width * 2);
  u32.fill(MISSING_WORD);
  return { f64, u32 };
}

export function setValue(f64: Float64Array, u32: Uint32Array, slot: number, v: number): void {
  if (v !== v) {
    u32[slot * 2] = 0;
    u32[slot * 2 + 1] = CANONICAL_NAN_HI;
  } else {
    f64[slot] = v;
  }
}

/** Trims trailing missing slots: rows of steps that carry only scalars stay short. */
export function rowToBuffer(f64: Float64Array, u32: Uint32Array): Buffer {
  let n = f64.length;
  while (n > 0 && u32[n * 2 - 1] === MISSING_WORD && u32[n * 2 - 2] === MISSING_WORD) n--;
  return Buffer.from(f64.buffer, f64.byteOffset, n * 8);
}

/** SQLite hands blobs back in pooled Buffers that need not be 8-byte aligned. */
export function f64View(buf: Buffer): Float64Array {
  if (buf.byteOffset % 8 === 0) return new Float64Array(buf.buffer, buf.byteOffset, buf.length / 8);
  return new Float64Array(new Uint8Array(buf).buffer);
}

/** The 32-bit words of the buffer last asked about: rows read together share SQLite's pool. */
let wordsBuffer: ArrayBufferLike | null = null;
let words: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

export function isMissing(f64: Float64Array, slot: number): boolean {
  if (slot >= f64.length) return true;
  if (f64.buffer !== wordsBuffer) {
    wordsBuffer = f64.buffer;
    words = new Uint32Array(f64.buffer, 0, f64.buffer.byteLength >>> 2);
  }
  const i = (f64.byteOffset >>> 2) + slot * 2;
  return words[i] === MISSING_WORD && words[i + 1] === MISSING_WORD;
}

/** Reads a slot, or undefined when the row has no value there. */
export function readSlot(f64: Float64Array, slot: number): number | undefined {
  if (slot >= f64.length) return undefined;
  const v = f64[slot] as number;
  // Only a NaN's bits can be MISSING's: they tell an empty slot from a stored NaN.
  return v === v || !isMissing(f64, slot) ? v : undefined;
}

export function f64Buffer(values: number[] | Float64Array): Buffer {
  const arr = values instanceof Float64Array ? values : Float64Array.from(values);
  return Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength);
}
