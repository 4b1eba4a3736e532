import { INPUT_FIELDS, STAT_FIELDS, STAT_KINDS, type InputStats } from '@gradwatch/shared';
import { BAIL, Cursor, KeyTable, objectOrder } from './msgpack-cursor.js';
import { FIELDS, KINDS, type PackedStep, type PackedStepsMsg } from './packed-step.js';

/**
 * The fast path for the frame that is nearly all of ingest: a MessagePack `steps` message read
 * in one pass from its bytes into PackedSteps, with no object per value, no generic MessagePack
 * decode and no schema walk. It takes only what the schema surely accepts and decodes the same
 * way: string keys of 1 to 200 ASCII characters, the protocol's own fields and nothing else,
 * numbers where numbers belong. Anything else (an unknown or repeated key, a nil, a fractional
 * step, a non-ASCII name, a truncated frame) returns null, and the frame takes the general path,
 * which stores it or explains what is wrong with it exactly as before.
 */
export function readStepsFrame(data: Buffer): PackedStepsMsg | null {
  // A message is a map (fixmap, map16 or map32): anything else is the general path's to refuse.
  const b0 = data[0];
  if (b0 === undefined || ((b0 & 0xf0) !== 0x80 && b0 !== 0xde && b0 !== 0xdf)) return null;
  try {
    return new Reader(data).message();
  } catch (e) {
    if (e === BAIL) return null;
    throw e;
  }
}

const TOP = new KeyTable(['type', 'seq', 'items']);
const ITEM = new KeyTable(['step', 'epoch', 'time', 'examples', 'scalars', 'layers', 'inputs']);
const KIND = new KeyTable(STAT_KINDS);
const FIELD = new KeyTable(STAT_FIELDS);
const INPUT = new KeyTable(INPUT_FIELDS);
/** Stats and InputStats without these are refused by the schema: the general path says so. */
const STATS_REQUIRED = 0b111; // mean, std, meanAbs
const INPUTS_REQUIRED = 0b1111; // mean, std, min, max

class Reader extends Cursor {
  message(): PackedStepsMsg {
    let seen = 0;
    let seq = 0;
    let items: PackedStep[] = [];
    for (let n = this.mapHeader(); n > 0; n--) {
      const k = this.newKey(TOP, seen);
      seen |= 1 << k;
      if (k === 0) {
        if (this.key(TYPE_STEPS) !== 0) throw BAIL;
      } else if (k === 1) {
        seq = this.uint();
        if (seq < 1) throw BAIL;
      } else {
        items = this.items();
      }
    }
    if (seen !== 0b111 || !this.atEnd()) throw BAIL;
    return { type: 'steps', seq, items };
  }

  private items(): PackedStep[] {
    const n = this.arrayHeader();
    if (n === 0) throw BAIL;
    const out: PackedStep[] = [];
    for (let i = 0; i < n; i++) out.push(this.item());
    return out;
  }

  private item(): PackedStep {
    let seen = 0;
    const item: PackedStep = { packed: true, step: 0, scalarNames: [], scalarValues: [], layerNames: [], masks: EMPTY_MASKS, vals: EMPTY_VALS };
    for (let n = this.mapHeader(); n > 0; n--) {
      const k = this.newKey(ITEM, seen);
      seen |= 1 << k;
      switch (k) {
        case 0:
          item.step = this.uint();
          break;
        case 1:
          item.epoch = this.finite();
          if (item.epoch < 0) throw BAIL;
          break;
        case 2:
          item.time = this.finite();
          break;
        case 3:
          item.examples = this.uint();
          break;
        case 4:
          this.scalars(item);
          break;
        case 5:
          this.layers(item);
          break;
        default:
          item.inputs = this.inputs();
      }
    }
    // step and scalars are required
    if ((seen & 0b10001) !== 0b10001) throw BAIL;
    return item;
  }

  private scalars(item: PackedStep): void {
    const n = this.mapHeader();
    const seen = new Set<string>();
    const isIndex: boolean[] = [];
    for (let i = 0; i < n; i++) {
      item.scalarNames.push(this.name(seen));
      isIndex.push(this.index);
      item.scalarValues.push(this.num());
    }
    const perm = objectOrder(item.scalarNames, isIndex);
    if (perm !== null) {
      item.scalarNames = perm.map((i) => item.scalarNames[i] as string);
      item.scalarValues = perm.map((i) => item.scalarValues[i] as number);
    }
  }

  private layers(item: PackedStep): void {
    const n = this.mapHeader();
    const masks = new Uint16Array(n * KINDS);
    const vals = new Float64Array(n * KINDS * FIELDS);
    const seen = new Set<string>();
    const isIndex: boolean[] = [];
    for (let l = 0; l < n; l++) {
      item.layerNames.push(this.name(seen));
      isIndex.push(this.index);
      for (let m = this.mapHeader(); m > 0; m--) {
        const kind = this.key(KIND);
        const at = l * KINDS + kind;
        if (masks[at] !== 0) throw BAIL;
        masks[at] = this.stats(vals, at * FIELDS);
      }
    }
    // nn.Sequential names its layers "0", "1", ...: listed as an object would list them
    const perm = objectOrder(item.layerNames, isIndex);
    if (perm === null) {
      item.masks = masks;
      item.vals = vals;
      return;
    }
    item.layerNames = perm.map((i) => item.layerNames[i] as string);
    item.masks = new Uint16Array(n * KINDS);
    item.vals = new Float64Array(n * KINDS * FIELDS);
    perm.forEach((from, to) => {
      item.masks.set(masks.subarray(from * KINDS, (from + 1) * KINDS), to * KINDS);
      item.vals.set(vals.subarray(from * KINDS * FIELDS, (from + 1) * KINDS * FIELDS), to * KINDS * FIELDS);
    });
  }

  /** One Stats map into vals[base..]; returns the bits of the fields it holds. */
  private stats(vals: Float64Array, base: number): number {
    let mask = 0;
    for (let n = this.mapHeader(); n > 0; n--) {
      const f = this.newKey(FIELD, mask);
      mask |= 1 << f;
      vals[base + f] = this.num();
    }
    if ((mask & STATS_REQUIRED) !== STATS_REQUIRED) throw BAIL;
    return mask;
  }

  private inputs(): InputStats {
    let mask = 0;
    const out: Record<string, number> = {};
    for (let n = this.mapHeader(); n > 0; n--) {
      const f = this.newKey(INPUT, mask);
      mask |= 1 << f;
      out[INPUT_FIELDS[f] as string] = this.num();
    }
    if ((mask & INPUTS_REQUIRED) !== INPUTS_REQUIRED) throw BAIL;
    return out as unknown as InputStats;
  }
}

const TYPE_STEPS = new KeyTable(['steps']);
const EMPTY_MASKS = new Uint16Array(0);
const EMPTY_VALS = new Float64Array(0);
