import type { LiveRun, RunDetail, SeriesInfo } from '@gradwatch/shared';
import { api } from '../api';
import { mark } from '../perf';
import type { LiveSocket } from '../socket';
import { throttle } from '../throttle';

/**
 * One run's detail and series list. While it is live, both are refreshed now and then (at most
 * every 5 s): a model message or a new series (an eval that starts late) can arrive any time.
 */
export class RunDetailStore {
  detail = $state<RunDetail | null>(null);
  series = $state.raw<SeriesInfo[]>([]);
  error = $state<string | null>(null);
  notFound = $state(false);
  private readonly refreshSoon = throttle(() => void this.load(), 5000);

  constructor(readonly id: string) {}

  async load(): Promise<void> {
    try {
      const [d, s] = await Promise.all([api.run(this.id), api.series(this.id)]);
      this.detail = d;
      this.series = s;
      mark(`gw:detail:${this.id}`);
      this.error = null;
    } catch (e) {
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

  follow(live: LiveSocket): () => void {
    const offs = [
      live.subscribe([this.id], []),
      live.on('run', (m) => this.onRun(m)),
      live.on('alert', (a) => {
        if (a.runId === this.id) this.refreshSoon();
      }),
    ];
    return () => {
      offs.forEach((off) => off());
      this.refreshSoon.cancel();
    };
  }
}
