import type {
  AlertPage, AlertQuery, HistogramList, HistogramQuery, ProjectList, QueryColumns, RunAlertQuery, RunDetail, RunDiagnosis, RunList,
  RunListQuery, SeriesList, StepsQuery, StepTimes, XAxis,
} from '@gradwatch/shared';
import { auth } from './auth.svelte';

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** What the alert views filter by: the server's query less its paging, which the stores own. */
export type AlertFilter = Omit<RunAlertQuery, 'cursor' | 'limit'>;
export type { AlertPage };

type Params = Record<string, string | number | undefined | null>;

function qs(params: Params): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

const enc = encodeURIComponent;

async function get<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  const res = await fetch(`/api/v1${path}${qs(params)}`, { headers, ...(signal ? { signal } : {}) });
  if (res.status === 401) {
    auth.reject();
    throw new ApiError(401, 'this server needs an access token');
  }
  if (!res.ok) {
    let message = res.statusText;
    try {
      message = ((await res.json()) as { message?: string }).message ?? message;
    } catch {
      // Not JSON: keep the status text.
    }
    throw new ApiError(res.status, message);
  }
  return (await res.json()) as T;
}

/** Series names per request: the server takes 500 and a query string of 20,000 characters. */
function chunkNames(names: readonly string[], maxChars = 12_000, maxNames = 200): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  let len = 0;
  for (const n of names) {
    const l = enc(n).length + 3;
    if (cur.length && (len + l > maxChars || cur.length >= maxNames)) {
      out.push(cur);
      cur = [];
      len = 0;
    }
    cur.push(n);
    len += l;
  }
  if (cur.length) out.push(cur);
  return out;
}

export interface QueryOptions {
  from?: number;
  to?: number;
  x?: XAxis;
  maxPoints?: number;
  signal?: AbortSignal;
}

/** The typed REST API. Every path and shape comes from the server's routes and shared schemas. */
export const api = {
  projects: () => get<ProjectList>('/projects').then((r) => r.projects),
  runs: (q: RunListQuery) => get<RunList>('/runs', q),
  run: (id: string) => get<RunDetail>(`/runs/${enc(id)}`),
  /** The run's ranked verdict, rank 1 first, info hints included. */
  diagnosis: (id: string) => get<RunDiagnosis>(`/runs/${enc(id)}/diagnosis`).then((r) => r.diagnoses),
  series: (id: string) => get<SeriesList>(`/runs/${enc(id)}/series`).then((r) => r.series),

  /**
   * A bucketed range query, each series' buckets as parallel arrays (half the bytes of the row
   * form, and no object per bucket to parse); long lists of series are split into parallel requests.
   */
  async query(id: string, names: readonly string[], o: QueryOptions = {}): Promise<QueryColumns['series']> {
    if (names.length === 0) return [];
    const parts = await Promise.all(
      chunkNames(names).map((chunk) =>
        get<QueryColumns>(`/runs/${enc(id)}/query/columns`, { series: chunk.join(','), from: o.from, to: o.to, x: o.x, maxPoints: o.maxPoints }, o.signal),
      ),
    );
    return parts.flatMap((p) => p.series);
  },

  steps: (id: string, q: StepsQuery = {}) => get<StepTimes>(`/runs/${enc(id)}/steps`, q).then((r) => r.steps),
  /** Newest first, as the server orders them. */
  histograms: (id: string, q: HistogramQuery) => get<HistogramList>(`/runs/${enc(id)}/histograms`, q).then((r) => r.histograms),
  alerts: (q: AlertQuery) => get<AlertPage>('/alerts', q),
  runAlerts: (id: string, q: RunAlertQuery = {}) => get<AlertPage>(`/runs/${enc(id)}/alerts`, q),
};

export { chunkNames };
