/**
 * Well-formed strings only. JSON may carry a lone UTF-16 surrogate as an escape ("\ud800"), but
 * SQLite stores text as UTF-8, which cannot hold one: it comes back as U+FFFD, under a name the
 * sender never used, and two such names collide in a UNIQUE index. So the server refuses any
 * message with an ill-formed string anywhere (keys included), naming the field.
 */

/** Valid UTF-8 never decodes to a lone surrogate: only a \uD800-\uDFFF escape can make one. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const wellFormed = (s: string): boolean => !LONE_SURROGATE.test(s);

/** false when the JSON text cannot hold an ill-formed string: the common case, checked cheaply. */
export function mayHoldIllFormed(jsonText: string): boolean {
  return SURROGATE_ESCAPE.test(jsonText);
}

/** The first ill-formed string (a value, or a key) in a parsed JSON value, as "path: problem"; else null. */
export function illFormedString(v: unknown, path = ''): string | null {
  if (typeof v === 'string') return wellFormed(v) ? null : `${path || '(message)'}: ${JSON.stringify(v).slice(0, 60)} holds a lone UTF-16 surrogate; send well-formed Unicode`;
  if (v === null || typeof v !== 'object') return null;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const bad = illFormedString(v[i], `${path}/${i}`);
      if (bad) return bad;
    }
    return null;
  }
  for (const [k, x] of Object.entries(v)) {
    if (!wellFormed(k)) return `${path || '(message)'}: the key ${JSON.stringify(k).slice(0, 60)} holds a lone UTF-16 surrogate; send well-formed Unicode`;
    const bad = illFormedString(x, `${path}/${k}`);
    if (bad) return bad;
  }
  return null;
}
