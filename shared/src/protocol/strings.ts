/**
 * Well-formed strings only. JSON may carry a lone UTF-16 surrogate as an escape ("\ud800"), but
 * SQLite stores text as UTF-8, which cannot hold one: it comes back as U+FFFD, under a name the
 * sender never used, and two such names collide in a UNIQUE index. PostgreSQL text cannot hold
 * a NUL character at all. So the server refuses any message with such a string anywhere (keys
 * included), naming the field, whichever database it writes to.
 */

/** Valid UTF-8 never decodes to a lone surrogate or a NUL: only a \uD800-\uDFFF or \u0000 escape can make one. */
const SURROGATE_ESCAPE = /\\u(?:[dD][89a-fA-F]|0000)/;

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const wellFormed = (s: string): boolean => !LONE_SURROGATE.test(s);

const problemOf = (s: string, nul: boolean): string | null =>
  !wellFormed(s) ? 'holds a lone UTF-16 surrogate; send well-formed Unicode' : nul && s.includes('\u0000') ? 'holds a NUL character (\\u0000), which cannot be stored' : null;

/** Why a string cannot be stored (a lone surrogate, a NUL), or null. */
export const stringProblem = (s: string): string | null => problemOf(s, true);

/** false when the JSON text cannot hold an ill-formed string: the common case, checked cheaply. */
export function mayHoldIllFormed(jsonText: string): boolean {
  return SURROGATE_ESCAPE.test(jsonText);
}

/**
 * The first ill-formed string (a value, or a key) in a parsed JSON value, as "path: problem";
 * else null. `nul`: a NUL character counts too (anything to be stored; not a lookup by name).
 */
export function illFormedString(v: unknown, path = '', nul = true): string | null {
  if (typeof v === 'string') {
    const p = problemOf(v, nul);
    return p === null ? null : `${path || '(message)'}: ${JSON.stringify(v).slice(0, 60)} ${p}`;
  }
  if (v === null || typeof v !== 'object') return null;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const bad = illFormedString(v[i], `${path}/${i}`, nul);
      if (bad) return bad;
    }
    return null;
  }
  for (const [k, x] of Object.entries(v)) {
    const p = problemOf(k, nul);
    if (p !== null) return `${path || '(message)'}: the key ${JSON.stringify(k).slice(0, 60)} ${p}`;
    const bad = illFormedString(x, `${path}/${k}`, nul);
    if (bad) return bad;
  }
  return null;
}
