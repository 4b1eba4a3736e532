import type { LiveRun, RunDetail, SeriesInfo } from '@gradwatch/shared';
import { api } from '../api';
import { mark } from '../perf';
import { throttle } from '../throttle';
import type { Live } from './run-series.svelte';

/** How many steps the run had logged, and up to which step, when the detail was read. */
export interface StepCount {
  count: number;
  through: number | null;
}

/**
 * One run's detail and series list. Status, last step and last-seen time follow the live run
 * events; the rest (model, a series that starts late, step counts) is refetched at most every 5 s.
 */
export class RunDetailStore {
  detail = $state<RunDetail | null>(null);
  series = $state.raw<SeriesInfo[]>([]);
  /** From the fetched detail, never patched live: a count and the step it is valid for go together. */
  steps = $state.raw<StepCount | null>(null);
  error = $state<string | null>(null);
  notFound = $state(false);
  private id: string | null = null;
  private readonly refreshSoon = throttle(() => void this.load(), 5000);

  constructor(private readonly live: Pick<Live, 'on' | 'subscribe'>) {}

  /** Loads this run and follows it; returns the stop. */
  open(id: string): () => void {
    this.id = id;
    this.detail = null;
    this.series = [];
    this.steps = null;
    this.notFound = false;
    this.error = null;
    void this.load();
    const offs = [
      this.live.subscribe([id], []),
      this.live.on('run', (m) => this.onRun(m)),
      this.live.on('alert', (a) => {
        if (a.runId === this.id) this.refreshSoon();
      }),
      this.live.on('open', ({ reconnect }) => {
        if (reconnect) this.refreshSoon();
      }),
    ];
    return () => {
      offs.forEach((off) => off());
      this.refreshSoon.cancel();
      this.id = null;
    };
  }

  async load(): Promise<void> {
    const id = this.id;
    if (id === null) return;
    try {
      const [d, s] = await Promise.all([api.run(id), api.series(id)]);
      if (id !== this.id) return;
      this.detail = d;
      this.series = s;
      // pointCount is the server's count of logged steps (rows of its step index).
      this.steps = { count: d.pointCount, through: d.lastStep };
      mark(`gw:detail:${id}`);
      this.error = null;
    } catch (e) {
      if (id !== this.id) return;
      const err = e as Error & { status?: number };
      if (err.status === 404) this.notFound = true;
      this.error = err.message;
    }
  }

  onRun(m: LiveRun): void {
    if (m.runId !== this.id || !this.detail) return;
    this.detail.status = m.status;
    this.detail.lastStep = m.lastStep;
    this.detail.lastSeenAt = m.lastSeenAt;
    this.refreshSoon();
  }
}
