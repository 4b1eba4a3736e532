import type { LiveDiagnosis, LiveRun, RunStatus, RunSummary } from '@gradwatch/shared';
import { api } from '../api';
import { topVerdict } from '../diagnosis';
import { throttle } from '../throttle';
import type { Live } from './run-series.svelte';

export interface RunFilter {
  project: string;
  statuses: RunStatus[];
  search: string;
}

/** The runs list: filtered server-side, kept current by the live socket's run and alert events. */
export class RunsStore {
  runs = $state<RunSummary[]>([]);
  total = $state(0);
  nextCursor = $state<string | null>(null);
  loading = $state(false);
  error = $state<string | null>(null);
  private filter: RunFilter = { project: '', statuses: [], search: '' };
  private seq = 0;
  /** Rows on screen, kept apart from `runs` so loading never reads what it writes. */
  private shown = 0;
  private readonly refreshSoon = throttle(() => void this.load(this.filter), 1000);

  constructor(private readonly live: Pick<Live, 'on' | 'subscribe'>, private readonly fetchRuns = api.runs) {}

  private query(cursor?: string) {
    const f = this.filter;
    return {
      ...(f.project ? { project: f.project } : {}),
      ...(f.statuses.length ? { status: f.statuses.join(',') } : {}),
      ...(f.search.trim() ? { search: f.search.trim() } : {}),
      ...(cursor ? { cursor } : {}),
      limit: 50,
    };
  }

  /** The runs under this filter; live refreshes keep to it. */
  async load(filter: RunFilter): Promise<void> {
    const seq = ++this.seq;
    this.filter = { ...filter, statuses: [...filter.statuses] };
    this.loading = true;
    try {
      // Keep as many rows as are shown, so a live refresh does not shrink a long list.
      const res = await this.fetchRuns({ ...this.query(), limit: Math.max(50, Math.min(500, this.shown)) });
      if (seq !== this.seq) return;
      this.runs = res.runs;
      this.total = res.total;
      this.nextCursor = res.nextCursor;
      this.shown = res.runs.length;
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
    const res = await this.fetchRuns(this.query(this.nextCursor));
    if (seq !== this.seq) return;
    this.runs = [...this.runs, ...res.runs];
    this.shown = this.runs.length;
    this.nextCursor = res.nextCursor;
  }

  /** A run event: patch the row in place; a run we do not show may now match, so refresh. */
  onRun(m: LiveRun): void {
    const r = this.runs.find((x) => x.id === m.runId);
    if (!r) {
      this.refreshSoon();
      return;
    }
    const statusChanged = r.status !== m.status;
    r.status = m.status;
    r.lastStep = m.lastStep;
    r.lastSeenAt = m.lastSeenAt;
    if (statusChanged && this.filter.statuses.length) this.refreshSoon();
  }

  /** A run's verdict changed: its row shows the new top diagnosis. */
  onDiagnosis(m: LiveDiagnosis): void {
    const r = this.runs.find((x) => x.id === m.runId);
    if (r) r.diagnosis = topVerdict(m.diagnoses);
  }

  /** Run, alert and diagnosis events of every run; returns the stop. */
  follow(): () => void {
    const offs = [
      this.live.subscribe(['*']),
      this.live.on('run', (m) => this.onRun(m)),
      this.live.on('diagnosis', (m) => this.onDiagnosis(m)),
      // Open-alert counts are the server's to compute: refetch, at most once a second.
      this.live.on('alert', () => this.refreshSoon()),
      this.live.on('open', ({ reconnect }) => {
        if (reconnect) this.refreshSoon();
      }),
    ];
    return () => {
      for (const off of offs) off();
      this.refreshSoon.cancel();
    };
  }
}
