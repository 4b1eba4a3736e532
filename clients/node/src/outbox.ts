import type { EndStatus, EvalMsg, HistItem, HistMsg, Limits, ModelMsg, StepItem } from '@gradwatch/shared';
import { toWireJson } from '@gradwatch/shared/wire';
import { Packr, Unpackr } from 'msgpackr';

export type Body =
  | Omit<ModelMsg, 'seq'>
  | { type: 'steps'; items: StepItem[] }
  | Omit<EvalMsg, 'seq'>
  | Omit<HistMsg, 'seq'>
  | { type: 'hists'; items: HistItem[] }
  | { type: 'end'; status: EndStatus };

/**
 * How sequenced messages travel: JSON text, or MessagePack binary frames once a welcome accepted
 * them (docs/protocol.md, "Binary frames"; NaN and ±Infinity as raw floats there).
 */
export type Encoding = 'json' | 'msgpack';

/** A queued message: its body is encoded once, the seq is put in front when it is sent. */
export interface Entry {
  seq: number;
  type: Body['type'];
  /**
   * The body without `seq`: wire JSON (non-finite numbers as markers) or a MessagePack map
   * (raw floats), as the outbox's encoding was when it was queued or last re-encoded.
   */
  data: string | Buffer;
  /** Step items it carries (0 for other types), for what a refusal cost. */
  steps: number;
  firstStep?: number;
  lastStep?: number;
}

/** Messages the client drops itself because no server could take them (a frame over the limit). */
export interface Dropped {
  entry: Entry;
  reason: string;
}

/** The protocol's default, used to split batches queued before the first welcome. */
const DEFAULT_MAX_FRAME = 4_194_304;
/** Room for `{"seq":N,` (or a map header and seq) in front of the body. */
const SEQ_ROOM = 32;

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
/** `"seq"` as a MessagePack key. */
const SEQ_KEY = Buffer.from([0xa3, 0x73, 0x65, 0x71]);

function encode(body: Body, enc: Encoding): string | Buffer {
  return enc === 'msgpack' ? packr.pack(body) : toWireJson(body);
}

/** The body an entry's data holds (markers stay markers in JSON, raw floats in MessagePack). */
function bodyOf(data: string | Buffer): Body {
  return (typeof data === 'string' ? JSON.parse(data) : unpackr.unpack(data)) as Body;
}

function entryOf(body: Body, enc: Encoding): Entry {
  const data = encode(body, enc);
  if (body.type !== 'steps') return { seq: 0, type: body.type, data, steps: 0 };
  return { seq: 0, type: 'steps', data, steps: body.items.length, firstStep: body.items[0]?.step, lastStep: body.items.at(-1)?.step };
}

/** A MessagePack map with `seq` put in front of the body's own entries (map16 header). */
function withSeq(seq: number, body: Buffer): Buffer {
  const b0 = body[0] as number;
  let n: number;
  let skip: number;
  if (b0 >= 0x80 && b0 <= 0x8f) [n, skip] = [b0 & 0x0f, 1];
  else if (b0 === 0xde) [n, skip] = [body.readUInt16BE(1), 3];
  else [n, skip] = [body.readUInt32BE(1), 5];
  const head = Buffer.allocUnsafe(5);
  head[0] = 0xdf;
  head.writeUInt32BE(n + 1, 1);
  return Buffer.concat([head, SEQ_KEY, packr.pack(seq), body.subarray(skip)]);
}

/**
 * Everything sent and not yet acked, in seq order, and the cursor of the next one to send on the
 * current connection. Seqs belong to the run: they are (re)assigned from the server's lastSeq at
 * a welcome, so that a new process resuming a run and a server that lost its tail both continue
 * without a gap.
 */
export class Outbox {
  entries: Entry[] = [];
  cursor = 0;
  /** The last seq given out. */
  seq = 0;
  /** False until the first welcome: before it, seqs are provisional. */
  numbered = false;
  /** The encoding new entries get; set at each welcome (`reencode`). */
  encoding: Encoding = 'json';

  /** Queues a message, split to the limits when they are known; returns what it became. */
  add(body: Body, limits: Limits | null): { added: Entry[]; dropped: Dropped[] } {
    const { fit, dropped } = this.shape([entryOf(body, this.encoding)], limits);
    for (const e of fit) {
      e.seq = ++this.seq;
      this.entries.push(e);
    }
    return { added: fit, dropped };
  }

  /** The frame to send for an entry: a text frame (string) or a binary one (Buffer). */
  static frame(e: Entry): string | Buffer {
    return typeof e.data === 'string' ? `{"seq":${e.seq},${e.data.slice(1)}` : withSeq(e.seq, e.data);
  }

  /**
   * At a welcome: entries queued in another encoding than the connection's are encoded again
   * (JSON queued before the first welcome, or MessagePack for a server that no longer takes it).
   */
  reencode(enc: Encoding): void {
    this.encoding = enc;
    for (const e of this.entries) {
      if ((typeof e.data === 'string') !== (enc === 'json')) e.data = encode(bodyOf(e.data), enc);
    }
  }

  /** Removes the entries up to seq; returns them. */
  takeThrough(seq: number): Entry[] {
    let n = 0;
    while (n < this.entries.length && (this.entries[n] as Entry).seq <= seq) n++;
    if (n === 0) return [];
    this.cursor = Math.max(0, this.cursor - n);
    return this.entries.splice(0, n);
  }

  indexOf(seq: number): number {
    return this.entries.findIndex((e) => e.seq === seq);
  }

  /** Moves the send cursor back so that the entry at index i is sent again. */
  rewindTo(i: number): void {
    if (i >= 0) this.cursor = Math.min(this.cursor, i);
  }

  /**
   * At a welcome: everything left is unstored (the caller has removed what lastSeq covers). Split
   * what the server's limits cannot take and number the rest contiguously after lastSeq.
   */
  renumber(lastSeq: number, limits: Limits): Dropped[] {
    const { fit, dropped } = this.shape(this.entries, limits);
    fit.forEach((e, i) => (e.seq = lastSeq + 1 + i));
    this.entries = fit;
    this.seq = lastSeq + fit.length;
    this.cursor = 0;
    this.numbered = true;
    return dropped;
  }

  /** Splits steps messages over maxItemsPerMessage or maxFrameBytes; drops what cannot be split. */
  private shape(entries: Entry[], limits: Limits | null): { fit: Entry[]; dropped: Dropped[] } {
    const maxBytes = (limits?.maxFrameBytes ?? DEFAULT_MAX_FRAME) - SEQ_ROOM;
    const maxItems = limits?.maxItemsPerMessage ?? Number.POSITIVE_INFINITY;
    const fit: Entry[] = [];
    const dropped: Dropped[] = [];
    const visit = (e: Entry): void => {
      const bytes = typeof e.data === 'string' ? Buffer.byteLength(e.data) : e.data.length;
      if (bytes <= maxBytes && e.steps <= maxItems) {
        fit.push(e);
        return;
      }
      const body = e.type === 'steps' || e.type === 'hists' ? (bodyOf(e.data) as { type: 'steps'; items: StepItem[] } | { type: 'hists'; items: HistItem[] }) : null;
      if (body && body.items.length > 1) {
        // Markers survive the JSON round trip as strings, which encode to themselves.
        const enc: Encoding = typeof e.data === 'string' ? 'json' : 'msgpack';
        const half = Math.ceil(body.items.length / 2);
        visit(entryOf({ ...body, items: body.items.slice(0, half) } as Body, enc));
        visit(entryOf({ ...body, items: body.items.slice(half) } as Body, enc));
        return;
      }
      dropped.push({ entry: e, reason: `a ${e.type} message of ${bytes} bytes is over the server's maxFrameBytes=${maxBytes + SEQ_ROOM}` });
    };
    for (const e of entries) visit(e);
    return { fit, dropped };
  }
}
