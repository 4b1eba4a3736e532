/**
 * Lossless compression of a chunk's steps and values, after Facebook's Gorilla (Pelkonen et
 * al., VLDB 2015): steps as delta-of-deltas (one bit a step when steps are evenly spaced),
 * values as the XOR with the previous value, written as its meaningful bits only. Bit exact, so
 * NaN and ±Infinity survive as they were stored.
 *
 * A blob is either this encoding or (chunks written before it) raw float64s. The raw form is
 * exactly count × 8 bytes long; an encoding that happens to have that length gets one padding
 * byte, so the length alone tells them apart and no chunk needs rewriting.
 */
import { BitReader, BitWriter } from './bit-stream.js';
import { f64View } from './packed.js';

const TWO32 = 2 ** 32;
const clz64 = (hi: number, lo: number): number => (hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo));
const ctz32 = (x: number): number => 31 - Math.clz32(x & -x);
const ctz64 = (hi: number, lo: number): number => (lo !== 0 ? ctz32(lo) : 32 + ctz32(hi));

function writeSafeInt(w: BitWriter, v: number): void {
  w.write(Math.floor(v / TWO32), 21);
  w.write(v % TWO32, 32);
}

function readSafeInt(r: BitReader): number {
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

const signed = (v: number, bits: number): number => (v >= 2 ** (bits - 1) ? v - 2 ** bits : v);

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

export function encodeValues(values: ArrayLike<number>): Buffer {
  const w = new BitWriter();
  const f = Float64Array.from(values);
  const u = new Uint32Array(f.buffer);
  let pHi = 0;
  let pLo = 0;
  let lead = -1;
  let trail = 0;
  for (let i = 0; i < f.length; i++) {
    const lo = u[2 * i] as number;
    const hi = u[2 * i + 1] as number;
    if (i === 0) {
      w.write(hi, 32);
      w.write(lo, 32);
    } else {
      const xHi = (hi ^ pHi) >>> 0;
      const xLo = (lo ^ pLo) >>> 0;
      if (xHi === 0 && xLo === 0) w.write(0, 1);
      else {
        let l = Math.min(clz64(xHi, xLo), 31);
        let t = ctz64(xHi, xLo);
        if (lead >= 0 && l >= lead && t >= trail) {
          // The meaningful bits fit in the previous window: reuse it.
          w.write(0b10, 2);
          l = lead;
          t = trail;
        } else {
          w.write(0b11, 2);
          w.write(l, 5);
          w.write(64 - l - t - 1, 6);
          lead = l;
          trail = t;
        }
        writeBits(w, xHi, xLo, t, 64 - l - t);
      }
    }
    pHi = hi;
    pLo = lo;
  }
  return seal(w.finish(), f.length);
}

/** Writes bits t .. t+m-1 of the 64-bit (hi, lo). */
function writeBits(w: BitWriter, hi: number, lo: number, t: number, m: number): void {
  let sHi: number;
  let sLo: number;
  if (t >= 32) {
    sHi = 0;
    sLo = hi >>> (t - 32);
  } else if (t === 0) {
    sHi = hi;
    sLo = lo;
  } else {
    sHi = hi >>> t;
    sLo = ((lo >>> t) | (hi << (32 - t))) >>> 0;
  }
  if (m > 32) {
    w.write(sHi, m - 32);
    w.write(sLo, 32);
  } else w.write(sLo, m);
}

function readBits(r: BitReader, t: number, m: number): [number, number] {
  let sHi = 0;
  let sLo: number;
  if (m > 32) {
    sHi = r.read(m - 32);
    sLo = r.read(32);
  } else sLo = r.read(m);
  if (t === 0) return [sHi, sLo];
  if (t >= 32) return [(sLo << (t - 32)) >>> 0, 0];
  return [((sHi << t) | (sLo >>> (32 - t))) >>> 0, (sLo << t) >>> 0];
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

export function decodeValues(blob: Buffer, count: number): Float64Array {
  if (blob.length === count * 8) return f64View(blob);
  const r = new BitReader(blob);
  const out = new Float64Array(count);
  const u = new Uint32Array(out.buffer);
  let hi = 0;
  let lo = 0;
  let lead = 0;
  let trail = 0;
  for (let i = 0; i < count; i++) {
    if (i === 0) {
      hi = r.read(32);
      lo = r.read(32);
    } else if (r.bit() === 1) {
      if (r.bit() === 1) {
        lead = r.read(5);
        trail = 64 - lead - (r.read(6) + 1);
      }
      const [xHi, xLo] = readBits(r, trail, 64 - lead - trail);
      hi = (hi ^ xHi) >>> 0;
      lo = (lo ^ xLo) >>> 0;
    }
    u[2 * i] = lo;
    u[2 * i + 1] = hi;
  }
  return out;
}
