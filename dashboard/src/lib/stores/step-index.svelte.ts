import { api } from '../api';
import { StepIndex } from '../step-index';
import { throttle } from '../throttle';
import type { Live } from './run-series.svelte';

/**
 * A run's step → time/epoch index, fetched only when a chart puts time or epoch on its x axis,
 * and extended (not refetched) as live points pass its end. Each extension is a new index, so
 * charts mapping steps through it redraw.
 */
export class RunSteps {
  index = $state.raw<StepIndex | null>(null);
  error = $state<string | null>(null);
  private runId: string | null = null;
  private started = false;
  private readonly extendSoon = throttle(() => void this.extend(), 1000);

  constructor(private readonly live: Pick<Live, 'on'>, private readonly steps = api.steps) {}

  /** Follows this run; returns the stop. Nothing is fetched until ensure(). */
  open(runId: string): () => void {
    this.runId = runId;
    this.index = null;
    this.started = false;
    const off = this.live.on('points', (m) => {
      if (m.runId !== this.runId || !this.index) return;
      const last = this.index.lastStep ?? -1;
      if (Object.values(m.series).some((pts) => (pts[pts.length - 1]?.[0] ?? -1) > last)) this.extendSoon();
    });
    return () => {
      off();
      this.extendSoon.cancel();
      this.runId = null;
    };
  }

  /** Fetches the index once (later extensions come from live points). */
  ensure(): void {
    if (this.started || this.runId === null) return;
    this.started = true;
    void this.extend();
  }

  private async extend(): Promise<void> {
    const runId = this.runId;
    if (runId === null) return;
    const from = (this.index?.lastStep ?? -1) + 1;
    let rows;
    try {
      rows = await this.steps(runId, { from, limit: 100_000 });
    } catch (e) {
      if (runId !== this.runId) return;
      this.error = `step times unavailable: ${(e as Error).message}`;
      this.started = false;
      return;
    }
    if (runId !== this.runId) return;
    this.error = null;
    const idx = this.index ? this.index.clone() : new StepIndex();
    idx.add(rows);
    this.index = idx;
  }
}
