/**
 * JSON has no NaN or Infinity, so they travel as these strings. A NaN loss is the most
 * important point of a run: every message that carries a measurement accepts them.
 * This module is the one place that knows the encoding (server, dashboard and TS client).
 */
export const NON_FINITE_MARKERS = ['NaN', 'Infinity', '-Infinity'] as const;
export type NonFiniteMarker = (typeof NON_FINITE_MARKERS)[number];
export type WireNum = number | NonFiniteMarker;

export function isNonFiniteMarker(v: unknown): v is NonFiniteMarker {
  return v === 'NaN' || v === 'Infinity' || v === '-Infinity';
}

/** Decodes a wire number (or marker) into a JS number; a missing value reads as NaN. */
export function decodeNum(v: WireNum | null | undefined): number {
  if (typeof v === 'number') return v;
  if (v === 'Infinity') return Number.POSITIVE_INFINITY;
  if (v === '-Infinity') return Number.NEGATIVE_INFINITY;
  return Number.NaN;
}

/** Encodes a JS number for JSON, keeping NaN and ±Infinity as markers. */
export function encodeNum(v: number): WireNum {
  if (Number.isFinite(v)) return v;
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? 'Infinity' : '-Infinity';
}

/** Which kind of non-finite a value is, or null for a finite one. */
export function nonFiniteKind(v: number): 'nan' | 'posInf' | 'negInf' | null {
  if (Number.isNaN(v)) return 'nan';
  if (v === Number.POSITIVE_INFINITY) return 'posInf';
  if (v === Number.NEGATIVE_INFINITY) return 'negInf';
  return null;
}

/**
 * JSON.stringify replacer that writes non-finite numbers as markers instead of `null`
 * (JSON.stringify's own choice, which would turn a NaN loss into a rejected message).
 */
export function wireReplacer(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? encodeNum(v) : v;
}

/** JSON.parse reviver that turns markers back into numbers (for trees of measurements only). */
export function wireReviver(_key: string, v: unknown): unknown {
  return isNonFiniteMarker(v) ? decodeNum(v) : v;
}

/** Serializes a message for the wire, non-finite numbers as markers. */
export const toWireJson = (msg: unknown): string => JSON.stringify(msg, wireReplacer);

/** A deep copy of a JSON-shaped tree with its markers decoded to numbers. */
export function decodeTree<T>(tree: T): T {
  return JSON.parse(JSON.stringify(tree), wireReviver) as T;
}
