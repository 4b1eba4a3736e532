import type { Alert } from '@gradwatch/shared';
import { api, type AlertFilter, type AlertPage } from '../api';
import type { LiveSocket } from '../socket';

/** Newest first, as the server pages them. */
const newestFirst = (a: Alert, b: Alert) => b.id - a.id;

function matches(a: Alert, f: AlertFilter, runId: string | null): boolean {
  if (runId !== null && a.runId !== runId) return false;
  if (f.project && a.project !== f.project) return false;
  if (f.status && a.status !== f.status) return false;
  if (f.severity && !f.severity.split(',').includes(a.severity)) return false;
  return true;
}

/** Alerts of one run, or of every run: paged from REST, upserted live from the socket. */
export class AlertList {
  alerts = $state<Alert[]>([]);
  nextCursor = $state<string | null>(null);
  loading = $state(false);
  error = $state<string | null>(null);
  filter = $state<AlertFilter>({});

  constructor(
    readonly runId: string | null,
    private readonly fetchPage: (f: AlertFilter) => Promise<AlertPage> = (f) =>
      runId === null ? api.alerts(f) : api.runAlerts(runId, f),
  ) {}

  async load(): Promise<void> {
    this.loading = true;
    try {
      const p = await this.fetchPage({ ...this.filter, limit: 100 });
      this.alerts = p.alerts;
      this.nextCursor = p.nextCursor;
      this.error = null;
    } catch (e) {
      this.error = (e as Error).message;
    } finally {
      this.loading = false;
    }
  }

  async more(): Promise<void> {
    if (!this.nextCursor) return;
    const p = await this.fetchPage({ ...this.filter, cursor: this.nextCursor, limit: 100 });
    this.alerts = [...this.alerts, ...p.alerts];
    this.nextCursor = p.nextCursor;
  }

  /** A live alert event: replace the alert with the same id, add a new one, drop one that no longer matches. */
  upsert(a: Alert): void {
    const rest = this.alerts.filter((x) => x.id !== a.id);
    this.alerts = matches(a, this.filter, this.runId) ? [a, ...rest].sort(newestFirst) : rest;
  }

  follow(live: LiveSocket): () => void {
    const offs = [
      live.subscribe([this.runId ?? '*'], this.runId ? [] : undefined),
      live.on('alert', (a) => this.upsert(a)),
      live.on('open', ({ reconnect }) => {
        if (reconnect) void this.load();
      }),
    ];
    return () => offs.forEach((off) => off());
  }
}
