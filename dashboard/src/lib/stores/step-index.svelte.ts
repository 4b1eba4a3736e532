import { api } from '../api';
import { StepIndex } from '../step-index';
import { throttle } from '../throttle';

/**
 * A run's step → time/epoch index, fetched only when a chart puts time or epoch on its x axis,
 * and extended (not refetched) as the run goes on.
 */
export class RunSteps {
  index = $state.raw<StepIndex | null>(null);
  version = $state(0);
  error = $state<string | null>(null);
  private loading: Promise<void> | null = null;
  private readonly extendSoon = throttle(() => void this.extend(), 1000);

  constructor(readonly runId: string, private readonly steps = api.steps) {}

  ensure(): Promise<void> {
    this.loading ??= this.extend();
    return this.loading;
  }

  /** A live point beyond the index: fetch the new steps, at most once a second. */
  saw(step: number): void {
    const last = this.index?.lastStep;
    if (this.index && (last === null || last === undefined || step > last)) this.extendSoon();
  }

  private async extend(): Promise<void> {
    const idx = this.index ?? new StepIndex();
    const from = (idx.lastStep ?? -1) + 1;
    let rows;
    try {
      rows = await this.steps(this.runId, { from, limit: 100_000 });
    } catch (e) {
      this.error = `step times unavailable: ${(e as Error).message}`;
      this.loading = null;
      return;
    }
    this.error = null;
    idx.add(rows);
    this.index = idx;
    this.version++;
  }

  dispose(): void {
    this.extendSoon.cancel();
  }
}
