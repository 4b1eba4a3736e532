import type { FastifyServerOptions } from 'fastify';

/** What a secret is replaced with in the log. */
export const REDACTED = '[redacted]';

/** Stored token secrets ("gw_" and 43 base64url characters) and webhook secrets ("whsec_"), wherever they appear. */
const STORED_SECRET = /\b(?:gw|whsec)_[A-Za-z0-9_-]{20,}/g;
/** The value of a token (or access_token) query parameter, raw or percent-encoded. */
const TOKEN_PARAM = /([?&](?:access_)?token=)[^&#\s"]*/gi;

const isTokenKey = (rawKey: string): boolean => {
  let key = rawKey;
  try {
    key = decodeURIComponent(rawKey.replace(/\+/g, ' '));
  } catch {
    // an undecodable key is compared as it is
  }
  return /^(access_)?token$/i.test(key);
};

/**
 * The URL without the value of any token query parameter, the key compared decoded as the
 * query parser reads it (so "?%74oken=" is caught too).
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      return eq >= 0 && isTokenKey(part.slice(0, eq)) ? `${part.slice(0, eq)}=${REDACTED}` : part;
    })
    .join('&');
  return `${url.slice(0, q)}?${query}`;
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Logger options that keep secrets out of every log line. Three layers: the request serializer
 * drops the value of ?token= (the documented way to authenticate the live socket) and logs no
 * headers; redaction paths cover objects that carry a token (headers, a hello, an auth
 * message) should anyone log one; and a last pass over each written line replaces the
 * bootstrap admin token and anything shaped like a stored secret, whatever logged it.
 */
export function loggerOptions(level: string, adminToken: string | null): NonNullable<Exclude<FastifyServerOptions['logger'], boolean>> {
  const literal = adminToken === null ? null : new RegExp(`${escapeRe(adminToken)}|${escapeRe(JSON.stringify(adminToken).slice(1, -1))}|${escapeRe(encodeURIComponent(adminToken))}`, 'g');
  return {
    level,
    serializers: {
      req: (req: { method: string; url: string; hostname?: string; ip?: string; socket?: { remotePort?: number } }) => ({
        method: req.method,
        url: redactUrl(req.url),
        host: req.hostname,
        remoteAddress: req.ip,
        remotePort: req.socket?.remotePort,
      }),
    },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie', 'token', '*.token', 'hello.token', 'msg.token'],
      censor: REDACTED,
    },
    hooks: {
      streamWrite: (line: string): string => {
        let out = line.replace(TOKEN_PARAM, `$1${REDACTED}`).replace(STORED_SECRET, REDACTED);
        if (literal) out = out.replace(literal, REDACTED);
        return out;
      },
    },
  };
}
