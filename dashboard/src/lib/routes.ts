export type RunTab = 'overview' | 'layers' | 'alerts';

export type Route =
  | { name: 'runs' }
  | { name: 'run'; id: string; tab: RunTab }
  | { name: 'alert'; runId: string; alertId: number }
  | { name: 'alerts' }
  | { name: 'compare' }
  | { name: 'notFound' };

const dec = (s: string): string => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/** Maps a path to a view. Paths are the app's own: history routing, the server falls back to index.html. */
export function matchRoute(path: string): Route {
  const parts = path.split('/').filter(Boolean).map(dec);
  const [a, b, c, d] = parts;
  if (parts.length === 0 || (a === 'runs' && parts.length === 1)) return { name: 'runs' };
  if (a === 'alerts' && parts.length === 1) return { name: 'alerts' };
  if (a === 'compare' && parts.length === 1) return { name: 'compare' };
  if (a === 'runs' && b) {
    if (parts.length === 2) return { name: 'run', id: b, tab: 'overview' };
    if (parts.length === 3 && (c === 'overview' || c === 'layers' || c === 'alerts')) return { name: 'run', id: b, tab: c };
    if (parts.length === 4 && c === 'alerts' && d && /^\d+$/.test(d)) return { name: 'alert', runId: b, alertId: Number(d) };
  }
  return { name: 'notFound' };
}

const enc = encodeURIComponent;
export const paths = {
  runs: () => '/',
  run: (id: string, tab: RunTab = 'overview') => (tab === 'overview' ? `/runs/${enc(id)}` : `/runs/${enc(id)}/${tab}`),
  alert: (runId: string, alertId: number) => `/runs/${enc(runId)}/alerts/${alertId}`,
  alerts: () => '/alerts',
  compare: (runs: readonly string[], series?: readonly string[]) => {
    const q = new URLSearchParams({ runs: runs.join(',') });
    if (series?.length) q.set('series', series.join(','));
    return `/compare?${q.toString()}`;
  },
};
