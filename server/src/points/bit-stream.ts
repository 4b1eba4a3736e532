/** Bits written most significant first into a growing byte buffer, 32 at a time at most. */
export class BitWriter {
  private buf = new Uint8Array(256);
  private bytes = 0;
  /** Bits not yet flushed, left-aligned in a 32-bit word. */
  private acc = 0;
  private used = 0;

  /** Appends the low `n` bits of `value` (0 ≤ n ≤ 32). */
  write(value: number, n: number): void {
    if (n === 0) return;
    const v = n === 32 ? value >>> 0 : (value & ((1 << n) - 1)) >>> 0;
    const free = 32 - this.used;
    if (n < free) {
      this.acc = (this.acc | (v << (free - n))) >>> 0;
      this.used += n;
      return;
    }
    // Fill the word, flush it, keep the rest.
    const rest = n - free;
    this.acc = (this.acc | (v >>> rest)) >>> 0;
    this.flushWord();
    this.acc = rest === 0 ? 0 : (v << (32 - rest)) >>> 0;
    this.used = rest;
  }

  private flushWord(): void {
    this.reserve(4);
    this.buf[this.bytes++] = this.acc >>> 24;
    this.buf[this.bytes++] = (this.acc >>> 16) & 0xff;
    this.buf[this.bytes++] = (this.acc >>> 8) & 0xff;
    this.buf[this.bytes++] = this.acc & 0xff;
    this.acc = 0;
    this.used = 0;
  }

  private reserve(n: number): void {
    if (this.bytes + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.bytes + n));
    next.set(this.buf.subarray(0, this.bytes));
    this.buf = next;
  }

  /** The bytes written, the last one padded with zero bits. */
  finish(): Uint8Array {
    const tail = Math.ceil(this.used / 8);
    this.reserve(tail);
    for (let i = 0; i < tail; i++) this.buf[this.bytes++] = (this.acc >>> (24 - 8 * i)) & 0xff;
    this.used = 0;
    this.acc = 0;
    return this.buf.subarray(0, this.bytes);
  }
}

export class BitReader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  /** Reads `n` bits (0 ≤ n ≤ 32) as an unsigned number; past the end reads zeros. */
  read(n: number): number {
    let v = 0;
    let left = n;
    while (left > 0) {
      const byte = this.buf[this.pos >>> 3] ?? 0;
      const off = this.pos & 7;
      const take = Math.min(8 - off, left);
      const bits = (byte >>> (8 - off - take)) & ((1 << take) - 1);
      v = v * (1 << take) + bits;
      this.pos += take;
      left -= take;
    }
    return v >>> 0;
  }

  bit(): number {
    const byte = this.buf[this.pos >>> 3] ?? 0;
    const b = (byte >>> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return b;
  }
}
