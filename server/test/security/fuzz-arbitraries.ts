/**
 * Arbitraries for the fuzz test: valid messages derived from the protocol's TypeBox schemas, the
 * one-field mutations that spoil them, and raw garbage frames.
 */
import fc from 'fast-check';
import type { TSchema } from 'typebox';
import { encodeNum } from '@gradwatch/shared';

/** The frame limit the fuzzed server runs with: garbage goes past it. */
export const FRAME = 65536;

// ---------------------------------------------------------------------------------------------
// Valid messages from the schemas

export type Json = unknown;
export const SMALL = { maxLength: 3 };

/** An arbitrary of values valid for a (TypeBox, i.e. JSON) schema, kept small. */
export function arbOf(s: TSchema & Record<string, unknown>): fc.Arbitrary<Json> {
  if (s.const !== undefined) return fc.constant(s.const);
  if (Array.isArray(s.anyOf)) return fc.oneof(...(s.anyOf as TSchema[]).map((x) => arbOf(x as TSchema & Record<string, unknown>)));
  const type = s.type;
  if (Array.isArray(type)) return fc.oneof(...type.map((t) => arbOf({ ...s, type: t } as TSchema & Record<string, unknown>)));
  switch (type) {
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, TSchema & Record<string, unknown>>;
      const required = new Set((s.required ?? []) as string[]);
      if (s.patternProperties) {
        const value = Object.values(s.patternProperties as Record<string, TSchema & Record<string, unknown>>)[0] as TSchema & Record<string, unknown>;
        const max = ((s.propertyNames as { maxLength?: number } | undefined)?.maxLength ?? 30);
        return fc.dictionary(fc.string({ minLength: 1, maxLength: Math.min(max, 12) }), arbOf(value), { maxKeys: 3 });
      }
      const rec: Record<string, fc.Arbitrary<Json>> = {};
      for (const [k, v] of Object.entries(props)) rec[k] = arbOf(v);
      return fc.record(rec, { requiredKeys: Object.keys(props).filter((k) => required.has(k)) });
    }
    case 'array': {
      const items = s.items as (TSchema & Record<string, unknown>) | Array<TSchema & Record<string, unknown>>;
      if (Array.isArray(items)) return fc.tuple(...items.map(arbOf));
      const min = (s.minItems as number | undefined) ?? 0;
      return fc.array(arbOf(items), { minLength: min, maxLength: Math.max(min, Math.min((s.maxItems as number | undefined) ?? 3, 3)) });
    }
    case 'string':
      if (typeof s.pattern === 'string') return fc.stringMatching(new RegExp(s.pattern)).filter((x) => x.length <= 40);
      return fc.string({ minLength: (s.minLength as number | undefined) ?? 0, maxLength: Math.min((s.maxLength as number | undefined) ?? 20, 20) });
    case 'integer':
      return fc.integer({ min: Math.max((s.minimum as number | undefined) ?? -1e6, -1e6), max: Math.min((s.maximum as number | undefined) ?? 1e6, 1e6) });
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true, min: (s.minimum as number | undefined) ?? -1e6, max: 1e6 });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}
void SMALL;

// ---------------------------------------------------------------------------------------------
// Mutations: one field at a time

export const deep = (n: number): Json => {
  let v: Json = 1;
  for (let i = 0; i < n; i++) v = i % 2 ? { a: v } : [v];
  return v;
};
export const protoKeys = (): Json => JSON.parse('{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}},"prototype":1,"toString":1,"hasOwnProperty":2}');

export const nasty: fc.Arbitrary<() => Json> = fc.oneof(
  // wrong types
  fc.constantFrom<() => Json>(() => null, () => true, () => false, () => '', () => [], () => ({}), () => '1', () => [1, 2, 3], () => ({ a: 1 })),
  // huge and tiny numbers
  fc.constantFrom<() => Json>(
    () => 1e308, () => -1e308, () => 5e-324, () => -5e-324, () => Number.MAX_SAFE_INTEGER, () => Number.MAX_SAFE_INTEGER + 2, () => -1, () => 0.5,
    () => 2 ** 63, () => -(2 ** 53), () => 'NaN', () => 'Infinity', () => '-Infinity', () => 'nan', () => -0,
  ),
  fc.double().map((d) => () => (Number.isFinite(d) ? d : encodeNum(d))),
  fc.integer().map((i) => () => i),
  // deep nesting
  fc.integer({ min: 10, max: 3000 }).map((n) => () => deep(n)),
  // unicode
  fc.string({ unit: 'binary', maxLength: 30 }).map((s) => () => s),
  fc.constantFrom<() => Json>(() => '\u0000', () => '\ud800', () => '\udfff\ud800', () => '🔥'.repeat(60), () => '\u202e\u0645\u0631\u062d\u0628\u0627', () => 'a\u0301'.repeat(150), () => '\uFEFF', () => 'x'.repeat(201)),
  // prototype keys
  fc.constant(protoKeys),
  fc.constantFrom('__proto__', 'constructor', 'prototype').map((k) => () => JSON.parse(`{"${k}":1,"a":2}`)),
  // SQL-looking strings
  fc.constantFrom<() => Json>(() => "'; DROP TABLE runs; --", () => '1 OR 1=1', () => "\" OR \"\"=\"", () => '%', () => '_', () => '\\', () => 'x\'); DELETE FROM series; --', () => '../../etc/passwd'),
);

export type Path = Array<string | number>;

export function paths(v: Json, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (v !== null && typeof v === 'object' && prefix.length < 8) {
    for (const k of Object.keys(v)) paths((v as Record<string, Json>)[k], [...prefix, Array.isArray(v) ? Number(k) : k], out);
  }
  return out;
}

export function setAt(root: Json, path: Path, value: Json): Json {
  if (path.length === 0) return value;
  const copy: Json = structuredClone(root);
  let cur = copy as Record<string | number, Json>;
  for (let i = 0; i < path.length - 1; i++) cur = cur[path[i] as string] as Record<string | number, Json>;
  const last = path[path.length - 1] as string;
  if (last === '__proto__') Object.defineProperty(cur, last, { value, enumerable: true, configurable: true, writable: true });
  else cur[last] = value;
  return copy;
}

/** How a message is spoiled: a field replaced or removed, a key added, or the seq played with. */
export type Mutation =
  | { kind: 'none' }
  | { kind: 'replace'; pick: number; value: () => Json }
  | { kind: 'remove'; pick: number }
  | { kind: 'addKey'; pick: number; key: string; value: () => Json }
  | { kind: 'seq'; delta: number | 'string' | 'float' | 'missing' | 'huge' };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<Mutation>({ kind: 'none' }) },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('replace' as const), pick: fc.nat(), value: nasty }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('addKey' as const), pick: fc.nat(), key: fc.constantFrom('__proto__', 'constructor', 'prototype', "'; DROP TABLE runs;--", '', 'x'.repeat(300), 'type', 'seq'), value: nasty }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('seq' as const), delta: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom('string' as const, 'float' as const, 'missing' as const, 'huge' as const)) }) },
);

export function mutate(base: Json, m: Mutation): Json {
  if (m.kind === 'none' || m.kind === 'seq') return base;
  const ps = paths(base).filter((p) => p.length > 0);
  if (ps.length === 0) return m.kind === 'replace' ? m.value() : base;
  const p = ps[m.pick % ps.length] as Path;
  if (m.kind === 'replace') return setAt(base, p, m.value());
  if (m.kind === 'remove') {
    const copy = structuredClone(base) as Record<string, Json>;
    let cur = copy as Record<string | number, Json>;
    for (let i = 0; i < p.length - 1; i++) cur = cur[p[i] as string] as Record<string | number, Json>;
    if (Array.isArray(cur)) cur.splice(Number(p[p.length - 1]), 1);
    else delete cur[p[p.length - 1] as string];
    return copy;
  }
  // addKey: to an object on the path (or the message itself)
  const objPath = p.slice(0, -1);
  const copy = structuredClone(base);
  let cur = copy as Record<string | number, Json>;
  for (const k of objPath) cur = cur[k as string] as Record<string | number, Json>;
  if (cur && typeof cur === 'object' && !Array.isArray(cur)) Object.defineProperty(cur, m.key, { value: m.value(), enumerable: true, configurable: true, writable: true });
  return copy;
}

/** Raw garbage frames: not JSON, truncated JSON, non-objects, binary, oversized. */
export const garbage: fc.Arbitrary<{ text?: string; binary?: Uint8Array }> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }).map((text) => ({ text })),
  fc.string({ maxLength: 100 }).map((text) => ({ text })),
  fc.uint8Array({ maxLength: 300 }).map((binary) => ({ binary })),
  fc.jsonValue({ maxDepth: 3 }).map((v) => ({ text: JSON.stringify(v) ?? 'null' })),
  fc.constantFrom('null', '[]', '1', '"hello"', 'true', '{}', '{"type":null}', '{"type":"__proto__"}', '{"type":"constructor","seq":1}', '{"type":"hello"}', '{"__proto__":{"type":"steps"}}').map((text) => ({ text })),
  fc.integer({ min: 1, max: 5000 }).map((n) => ({ text: '['.repeat(n) + ']'.repeat(n) })),
  fc.constant({ text: `{"type":"steps","seq":1,"items":[${'{"step":1,"scalars":{}},'.repeat(3000)}{"step":2,"scalars":{}}]}` }),
  fc.constant({ text: 'x'.repeat(FRAME + 1) }),
);

// ---------------------------------------------------------------------------------------------
// Ingest: the oracle of what must be stored
