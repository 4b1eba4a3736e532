import { badRequest } from './http-errors.js';

const EARLIEST = Date.parse('0000-01-01T00:00:00.000Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}(?::?\d{2})?)$/;

/**
 * A timestamp from a query, as stored (ISO, UTC, so it compares as text). Parsed here rather
 * than by Date, which refuses two things RFC 3339 (and the schema) allow: a leap second, read
 * as the last millisecond before it, and an offset of hours alone ("+01"). One outside the
 * years Date.toISOString writes with four digits is clamped, so it still compares in order.
 */
export function isoOf(name: string, v: string): string {
  const m = RFC3339.exec(v);
  if (!m) throw badRequest(`${name} is not an RFC 3339 time: ${v}`);
  const [, y, mo, d, h, mi, sec, frac, zone] = m as unknown as [string, string, string, string, string, string, string, string | undefined, string];
  const leap = sec === '60';
  const millis = leap ? '999' : (frac ?? '').slice(0, 3).padEnd(3, '0');
  const hhmm = zone.slice(1).replace(':', '');
  const offset = /^[Zz]$/.test(zone) ? 'Z' : `${zone.slice(0, 1)}${hhmm.slice(0, 2)}:${hhmm.slice(2) || '00'}`;
  const t = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${leap ? '59' : sec}.${millis}${offset}`);
  if (Number.isNaN(t)) throw badRequest(`${name} is not a time this server can read: ${v}`);
  return new Date(Math.min(LATEST, Math.max(EARLIEST, t))).toISOString();
}
