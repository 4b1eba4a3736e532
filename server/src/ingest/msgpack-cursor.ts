/**
 * The MessagePack pieces the fast steps reader (steps-frame.ts) is made of: map, array and string
 * headers, keys matched as bytes against a table, names, and numbers. Each throws BAIL where
 * the bytes are not what it takes, and the reader hands the frame to the general path.
 */

/** Thrown inside the reader when the frame is not of the fast shape; never escapes it. */
export const BAIL = new Error('not a plain steps frame');

/** The schema's longest scalar or layer name. */
const MAX_NAME = 200;

/** Keys of one map as byte strings, looked up by length first. */
export class KeyTable {
  private readonly byLength: Array<Array<{ bytes: Buffer; index: number }>> = [];

  constructor(keys: readonly string[]) {
    keys.forEach((k, index) => {
      (this.byLength[k.length] ??= []).push({ bytes: Buffer.from(k, 'latin1'), index });
    });
  }

  /** The index of the key at data[start, start + len), or -1. */
  find(data: Buffer, start: number, len: number): number {
    const cands = this.byLength[len];
    if (cands === undefined) return -1;
    for (const c of cands) {
      let i = 0;
      while (i < len && data[start + i] === c.bytes[i]) i++;
      if (i === len) return c.index;
    }
    return -1;
  }
}

const MARKERS = new KeyTable(['NaN', 'Infinity', '-Infinity']);

/** The largest array index (2^32 - 2): larger all-digit keys keep their place in an object. */
const MAX_INDEX = 4_294_967_294;

/** A read position in one frame. */
export class Cursor {
  protected pos = 0;
  /** Whether the last name() read was an array index. */
  protected index = false;
  private readonly view: DataView;

  constructor(protected readonly data: Buffer) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  /** Whether every byte was read: a frame is one value and nothing after it. */
  protected atEnd(): boolean {
    return this.pos === this.data.length;
  }

  protected byte(): number {
    const b = this.data[this.pos++];
    if (b === undefined) throw BAIL;
    return b;
  }

  protected need(n: number): number {
    const at = this.pos;
    if (at + n > this.data.length) throw BAIL;
    this.pos = at + n;
    return at;
  }

  /** Entries of a container: fixed form `fix` (count in the low nibble), 16-bit form `wide`, 32-bit form `wide + 1`. */
  private header(fix: number, wide: number): number {
    const b = this.byte();
    if ((b & 0xf0) === fix) return b & 0x0f;
    if (b === wide) return this.view.getUint16(this.need(2));
    if (b === wide + 1) return this.view.getUint32(this.need(4));
    throw BAIL;
  }

  protected mapHeader(): number {
    return this.header(0x80, 0xde);
  }

  protected arrayHeader(): number {
    return this.header(0x90, 0xdc);
  }

  /** A string's length, the position after its header. */
  protected strHeader(): number {
    const b = this.byte();
    if ((b & 0xe0) === 0xa0) return b & 0x1f;
    if (b === 0xd9) return this.byte();
    if (b === 0xda) return this.view.getUint16(this.need(2));
    if (b === 0xdb) return this.view.getUint32(this.need(4));
    throw BAIL;
  }

  /** A key of the table: its index. */
  protected key(table: KeyTable): number {
    const len = this.strHeader();
    const at = this.need(len);
    const k = table.find(this.data, at, len);
    if (k < 0) throw BAIL;
    return k;
  }

  /** A key of the table not among `seen` (its bits by index): a key repeated in a map bails. */
  protected newKey(table: KeyTable, seen: number): number {
    const k = this.key(table);
    if (seen & (1 << k)) throw BAIL;
    return k;
  }

  /**
   * A scalar or layer name: 1 to 200 printable ASCII characters, not seen before in its map and
   * not __proto__. `index` tells whether it was an array index ("0", "12"), which a JS object
   * lists before its other keys.
   */
  protected name(seen: Set<string>): string {
    const len = this.strHeader();
    if (len < 1 || len > MAX_NAME) throw BAIL;
    const at = this.need(len);
    let digits = true;
    for (let i = at; i < at + len; i++) {
      const c = this.data[i] as number;
      if (c < 0x20 || c > 0x7e) throw BAIL;
      if (c < 0x30 || c > 0x39) digits = false;
    }
    const s = this.data.toString('latin1', at, at + len);
    if (s === '__proto__' || seen.has(s)) throw BAIL;
    seen.add(s);
    this.index = digits && (len === 1 || this.data[at] !== 0x30) && len <= 10 && Number(s) <= MAX_INDEX;
    return s;
  }

  /** A whole number from 0 to 2^53 - 1, in any MessagePack number form (the schema's Integer). */
  protected uint(): number {
    const v = this.num();
    if (!Number.isSafeInteger(v) || v < 0) throw BAIL;
    return v;
  }

  /** A measurement: any MessagePack number, or one of the protocol's non-finite markers. */
  protected num(): number {
    const b = this.byte();
    if (b < 0x80) return b;
    if (b >= 0xe0) return b - 0x100;
    switch (b) {
      case 0xcb:
        return this.view.getFloat64(this.need(8));
      case 0xca:
        return this.view.getFloat32(this.need(4));
      case 0xcc:
        return this.byte();
      case 0xcd:
        return this.view.getUint16(this.need(2));
      case 0xce:
        return this.view.getUint32(this.need(4));
      case 0xcf:
        return this.int64(false);
      case 0xd0:
        return this.view.getInt8(this.need(1));
      case 0xd1:
        return this.view.getInt16(this.need(2));
      case 0xd2:
        return this.view.getInt32(this.need(4));
      case 0xd3:
        return this.int64(true);
      default: {
        this.pos--;
        const m = this.key(MARKERS);
        return m === 0 ? Number.NaN : m === 1 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
      }
    }
  }

  /** A 64-bit integer as the nearest number, as msgpackr reads it with int64AsType 'number'. */
  private int64(signed: boolean): number {
    const at = this.need(8);
    const hi = signed ? this.view.getInt32(at) : this.view.getUint32(at);
    return hi * 0x1_0000_0000 + this.view.getUint32(at + 4);
  }

  /** A finite number (time, epoch): the schema's Number. */
  protected finite(): number {
    const v = this.num();
    if (!Number.isFinite(v)) throw BAIL;
    return v;
  }
}

/**
 * The order in which a JS object made from these keys (in arrival order) lists them: array
 * indices first, ascending, then the others as they came. null when that is the arrival order.
 */
export function objectOrder(names: readonly string[], isIndex: readonly boolean[]): number[] | null {
  const idx: number[] = [];
  const rest: number[] = [];
  isIndex.forEach((x, i) => (x ? idx : rest).push(i));
  if (idx.length === 0) return null;
  idx.sort((a, b) => Number(names[a]) - Number(names[b]));
  const out = idx.concat(rest);
  return out.every((v, i) => v === i) ? null : out;
}
