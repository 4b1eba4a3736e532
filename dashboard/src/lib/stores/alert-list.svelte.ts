import type { Alert, RunAlertQuery } from '@gradwatch/shared';
import { api, type AlertFilter, type AlertPage } from '../api';
import type { Live } from './run-series.svelte';

/** Newest first, as the server pages them. */
const newestFirst = (a: Alert, b: Alert) => b.id - a.id;

function matches(a: Alert, f: AlertFilter, runId: string | null): boolean {
  if (runId !== null && a.runId !== runId) return false;
  if (f.project && a.project !== f.project) return false;
  if (f.status && a.status !== f.status) return false;
  if (f.severity && !f.severity.split(',').includes(a.severity)) return false;
  return true;
}

type FetchPage = (runId: string | null, q: RunAlertQuery) => Promise<AlertPage>;
const fetchAlerts: FetchPage = (runId, q) => (runId === null ? api.alerts(q) : api.runAlerts(runId, q));

/** Alerts of one run, or of every run: paged from REST, upserted live from the socket. */
export class AlertList {
  alerts = $state.raw<Alert[]>([]);
  nextCursor = $state<string | null>(null);
  loading = $state(false);
  error = $state<string | null>(null);
  private runId: string | null = null;
  private filter: AlertFilter = {};
  private seq = 0;

  constructor(private readonly live: Pick<Live, 'on' | 'subscribe'>, private readonly fetchPage: FetchPage = fetchAlerts) {}

  /** Follows the alerts of one run (null: every run); returns the stop. */
  follow(runId: string | null): () => void {
    this.runId = runId;
    const offs = [
      this.live.subscribe([runId ?? '*'], runId ? [] : undefined),
      this.live.on('alert', (a) => this.upsert(a)),
      this.live.on('open', ({ reconnect }) => {
        if (reconnect) void this.load(this.filter);
      }),
    ];
    return () => offs.forEach((off) => off());
  }

  /** The first page under this filter; later live alerts are kept to it too. */
  async load(filter: AlertFilter): Promise<void> {
    const seq = ++this.seq;
    this.filter = { ...filter };
    this.loading = true;
    try {
      const p = await this.fetchPage(this.runId, { ...this.filter, limit: 100 });
      if (seq !== this.seq) return;
      this.alerts = p.alerts;
      this.nextCursor = p.nextCursor;
      this.error = null;
    } catch (e) {
      if (seq === this.seq) this.error = (e as Error).message;
    } finally {
      if (seq === this.seq) this.loading = false;
    }
  }

  async more(): Promise<void> {
    if (!this.nextCursor) return;
    const seq = this.seq;
    const p = await this.fetchPage(this.runId, { ...this.filter, cursor: this.nextCursor, limit: 100 });
    if (seq !== this.seq) return;
    this.alerts = [...this.alerts, ...p.alerts];
    this.nextCursor = p.nextCursor;
  }

  /** A live alert event: replace the alert with the same id, add a new one, drop one that no longer matches. */
  upsert(a: Alert): void {
    const rest = this.alerts.filter((x) => x.id !== a.id);
    this.alerts = matches(a, this.filter, this.runId) ? [a, ...rest].sort(newestFirst) : rest;
  }
}
