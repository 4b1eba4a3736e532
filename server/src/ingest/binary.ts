import { Unpackr } from 'msgpackr';
import { stringProblem } from '@gradwatch/shared';

/**
 * MessagePack binary frames (docs/protocol.md, "Binary frames"): the same message objects as the
 * JSON ones, with NaN and ±Infinity as raw floats. Maps decode to plain objects (no records, no
 * Maps), 64-bit integers to numbers, so the validators see what JSON.parse would give them.
 */
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

/**
 * A decoded frame: the message and the first value in it that a JSON message could not hold or
 * a string that cannot be stored (`problem`, refused like an ill-formed string), or why the
 * bytes are not one MessagePack value at all.
 */
export type Decoded = { ok: true; msg: unknown; problem: string | null } | { ok: false; message: string };

/**
 * Decodes one binary frame. A value JSON could not carry (a binary, an extension type such as a
 * timestamp, `undefined`) or a string with a NUL or a lone surrogate (ill-formed UTF-8) is the
 * `problem`: found in one walk, before the schemas see the message.
 */
export function decodeBinary(data: Buffer): Decoded {
  let msg: unknown;
  try {
    msg = unpackr.unpack(data);
  } catch (e) {
    return { ok: false, message: `the binary frame is not one MessagePack value: ${(e as Error).message}`.slice(0, 200) };
  }
  try {
    return { ok: true, msg, problem: foreignOrIllFormed(msg, '') };
  } catch {
    // Nested deeper than the stack: no message of the protocol is.
    return { ok: true, msg, problem: '(message): nested too deeply' };
  }
}

const kindOf = (v: unknown): string =>
  v === undefined ? 'undefined (an extension type)' : typeof v === 'bigint' ? 'big integer' : ((v as object).constructor?.name ?? 'extension value');

/** ES2024's String.prototype.isWellFormed (Node 20+): native, no regex per string. */
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();
const storable = (s: string): boolean => wellFormed(s) && !s.includes('\u0000');

/**
 * Keys seen storable lately: the same few names (mean, std, a model's layers) come in every
 * message, and a Set lookup of a string whose hash V8 has cached beats scanning it twice.
 */
const goodKeys = new Set<string>();
function storableKey(k: string): boolean {
  if (goodKeys.has(k)) return true;
  if (!storable(k)) return false;
  if (goodKeys.size >= 10_000) goodKeys.clear();
  goodKeys.add(k);
  return true;
}

/** The fast walk: true when every value is one JSON could hold and every string is storable. */
function plain(v: unknown): boolean {
  switch (typeof v) {
    case 'number':
    case 'boolean':
      return true;
    case 'string':
      return storable(v);
    case 'object':
      if (v === null) return true;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!plain(v[i])) return false;
        return true;
      }
      if (Object.getPrototypeOf(v) !== Object.prototype) return false;
      for (const k in v) if (!storableKey(k) || !plain((v as Record<string, unknown>)[k])) return false;
      return true;
    default:
      return false;
  }
}

/**
 * The first value that a JSON message could not hold, or string that could not be stored, as
 * "path: problem"; else null. One walk does both, in place of the JSON path's illFormedString;
 * paths are only built once the fast walk has found something.
 */
function foreignOrIllFormed(v: unknown, path: string): string | null {
  if (plain(v)) return null;
  return describe(v, path);
}

function describe(v: unknown, path: string): string | null {
  switch (typeof v) {
    case 'number':
    case 'boolean':
      return null;
    case 'string': {
      const p = stringProblem(v);
      return p === null ? null : `${path || '(message)'}: ${JSON.stringify(v).slice(0, 60)} ${p}`;
    }
    case 'object':
      if (v === null) return null;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const bad = describe(v[i], `${path}/${i}`);
          if (bad !== null) return bad;
        }
        return null;
      }
      if (Object.getPrototypeOf(v) === Object.prototype) {
        for (const k in v) {
          const p = stringProblem(k);
          if (p !== null) return `${path || '(message)'}: the key ${JSON.stringify(k).slice(0, 60)} ${p}`;
          const bad = describe((v as Record<string, unknown>)[k], `${path}/${k}`);
          if (bad !== null) return bad;
        }
        return null;
      }
      break;
    default:
      break;
  }
  return `${path || '(message)'}: a MessagePack ${kindOf(v)} is not part of the protocol; send maps, arrays, strings, numbers, booleans and nil`;
}
