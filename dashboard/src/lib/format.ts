/** Compact number for ticks and tables: 1.2k, 3.4e-5, 0.123. */
export function fmtNum(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined) return '—';
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Infinity' : '-Infinity';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e6 || a < 1e-3) return v.toExponential(2);
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return Number(v.toPrecision(digits)).toString();
}

export function fmtStep(v: number): string {
  if (Math.abs(v) >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (Math.abs(v) >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  return String(Math.round(v));
}

export function fmtClock(ms: number): string {
  return new Date(ms).toLocaleTimeString('en-GB', { hour12: false });
}

export function fmtDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '—';
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.round((s % 86400) / 3600)} h`;
}

/** "12 s ago": relative to `now` so a ticking clock can re-render it. */
export function fmtAgo(iso: string | null, now: number): string {
  if (!iso) return '—';
  const s = (now - Date.parse(iso)) / 1000;
  return s < 5 ? 'just now' : `${fmtDuration(s)} ago`;
}

/** Any config or evidence value as one line of text. */
export function fmtValue(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return fmtNum(v, 6);
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.map(fmtValue).join(', ')}]`;
  // Spaces after separators, so a long object wraps between entries rather than mid-word.
  return JSON.stringify(v, null, 1).replace(/\n\s*/g, ' ');
}
