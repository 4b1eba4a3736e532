/** Why a DL4J message could not be read; the route answers 400 with this message. */
export class Dl4jFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Dl4jFormatError';
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Little-endian reads over an SBE buffer, every one bounds-checked: a truncated or forged
 * message fails with a Dl4jFormatError that says where, never with a RangeError or a read
 * past the end. Fields are packed (no alignment), so a DataView is used rather than typed arrays.
 */
export class SbeReader {
  private readonly view: DataView;
  /** Where the next group header or var-data field starts. */
  pos: number;

  constructor(readonly bytes: Uint8Array, start = 0) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
  }

  get length(): number {
    return this.bytes.byteLength;
  }

  need(at: number, n: number, what: string): void {
    if (at < 0 || at + n > this.bytes.byteLength) {
      throw new Dl4jFormatError(`message ends early: ${what} needs ${n} bytes at offset ${at}, the message has ${this.bytes.byteLength}`);
    }
  }

  u8(at: number, what: string): number {
    this.need(at, 1, what);
    return this.view.getUint8(at);
  }
  u16(at: number, what: string): number {
    this.need(at, 2, what);
    return this.view.getUint16(at, true);
  }
  i32(at: number, what: string): number {
    this.need(at, 4, what);
    return this.view.getInt32(at, true);
  }
  u32(at: number, what: string): number {
    this.need(at, 4, what);
    return this.view.getUint32(at, true);
  }
  /** int64 as a JS number: exact up to 2^53, which covers byte counts and epoch milliseconds. */
  i64(at: number, what: string): number {
    this.need(at, 8, what);
    return Number(this.view.getBigInt64(at, true));
  }
  f32(at: number, what: string): number {
    this.need(at, 4, what);
    return this.view.getFloat32(at, true);
  }
  f64(at: number, what: string): number {
    this.need(at, 8, what);
    return this.view.getFloat64(at, true);
  }

  /**
   * A repeating group's 4-byte header at the cursor. The entry block length is the header's, so
   * an entry written by a newer schema with extra fixed fields is still stepped over correctly;
   * it must at least hold the fields this reader knows.
   */
  group(what: string, minBlock: number): { blockLength: number; count: number } {
    const blockLength = this.u16(this.pos, `${what} group header`);
    const count = this.u16(this.pos + 2, `${what} group header`);
    this.pos += 4;
    if (count > 0 && blockLength < minBlock) {
      throw new Dl4jFormatError(`${what} entries are ${blockLength} bytes; at least ${minBlock} are needed`);
    }
    // Even empty entries take their block: a count the buffer cannot hold is refused before any loop.
    this.need(this.pos, blockLength * count, `${count} ${what} entries`);
    return { blockLength, count };
  }

  /** A var-data field (uint32 length, then UTF-8 bytes) at the cursor. */
  string(what: string): string {
    const n = this.u32(this.pos, `length of ${what}`);
    this.need(this.pos + 4, n, what);
    let out: string;
    try {
      out = utf8.decode(this.bytes.subarray(this.pos + 4, this.pos + 4 + n));
    } catch {
      throw new Dl4jFormatError(`${what} is not valid UTF-8`);
    }
    this.pos += 4 + n;
    return out;
  }

  /** Enters a group entry: returns where its fixed block starts, and moves the cursor past it. */
  entry(blockLength: number): number {
    const start = this.pos;
    this.pos += blockLength;
    return start;
  }
}
