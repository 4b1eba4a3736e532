import type { EndStatus, EvalMsg, HistMsg, Limits, ModelMsg, StepItem } from '@gradwatch/shared';
import { toWireJson } from '@gradwatch/shared/wire';

export type Body =
  | Omit<ModelMsg, 'seq'>
  | { type: 'steps'; items: StepItem[] }
  | Omit<EvalMsg, 'seq'>
  | Omit<HistMsg, 'seq'>
  | { type: 'end'; status: EndStatus };

/** A queued message: its body is encoded once, the seq is put in front when it is sent. */
export interface Entry {
  seq: number;
  type: Body['type'];
  /** The body as wire JSON (non-finite numbers as markers), without `seq`. */
  json: string;
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
/** Room for `{"seq":N,` in front of the body. */
const SEQ_ROOM = 32;

function entryOf(body: Body): Entry {
  const json = toWireJson(body);
  if (body.type !== 'steps') return { seq: 0, type: body.type, json, steps: 0 };
  return { seq: 0, type: 'steps', json, steps: body.items.length, firstStep: body.items[0]?.step, lastStep: body.items.at(-1)?.step };
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

  /** Queues a message, split to the limits when they are known; returns what it became. */
  add(body: Body, limits: Limits | null): { added: Entry[]; dropped: Dropped[] } {
    const { fit, dropped } = this.shape([entryOf(body)], limits);
    for (const e of fit) {
      e.seq = ++this.seq;
      this.entries.push(e);
    }
    return { added: fit, dropped };
  }

  /** The frame to send for an entry. */
  static frame(e: Entry): string {
    return `{"seq":${e.seq},${e.json.slice(1)}`;
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
      const bytes = Buffer.byteLength(e.json);
      if (bytes <= maxBytes && e.steps <= maxItems) {
        fit.push(e);
        return;
      }
      if (e.type === 'steps' && e.steps > 1) {
        // Markers survive the round trip as strings, which encode to themselves.
        const items = (JSON.parse(e.json) as { items: StepItem[] }).items;
        const half = Math.ceil(items.length / 2);
        visit(entryOf({ type: 'steps', items: items.slice(0, half) }));
        visit(entryOf({ type: 'steps', items: items.slice(half) }));
        return;
      }
      dropped.push({ entry: e, reason: `a ${e.type} message of ${bytes} bytes is over the server's maxFrameBytes=${maxBytes + SEQ_ROOM}` });
    };
    for (const e of entries) visit(e);
    return { fit, dropped };
  }
}
