import { api } from '../api';
import { pointBin, type Bin } from '../buckets';
import { StepIndex } from '../step-index';
import { throttle } from '../throttle';

/** Steps of history the throughput chart covers: the endpoint pages steps oldest first. */
export const THROUGHPUT_WINDOW = 5000;

/**
 * Throughput from the step index's wall-clock times: steps/s, and examples/s when the run's
 * config names its batch size. Kept to a recent window, refreshed at most every 5 s.
 */
export class Throughput {
  steps = $state.raw<Bin[]>([]);
  examples = $state.raw<Bin[]>([]);
  latest = $state.raw<{ steps: number; examples: number | null } | null>(null);
  error = $state<string | null>(null);
  private runId: string | null = null;
  private batchSize: number | null = null;
  private lastStep: number | null = null;
  private readonly refreshSoon = throttle(() => void this.load(), 5000);

  constructor(private readonly fetchSteps = api.steps) {}

  /** The run and how far it has got: the first call loads, later ones refresh now and then. */
  update(runId: string, batchSize: number | null, lastStep: number | null): void {
    const fresh = runId !== this.runId;
    if (!fresh && lastStep === this.lastStep) return;
    this.runId = runId;
    this.batchSize = batchSize;
    this.lastStep = lastStep;
    if (fresh) void this.load();
    else this.refreshSoon();
  }

  close(): void {
    this.refreshSoon.cancel();
    this.runId = null;
  }

  private async load(): Promise<void> {
    const runId = this.runId;
    if (runId === null) return;
    const last = this.lastStep ?? 0;
    let rows;
    try {
      rows = await this.fetchSteps(runId, { from: Math.max(0, last - THROUGHPUT_WINDOW), limit: THROUGHPUT_WINDOW + 1 });
    } catch (e) {
      if (runId === this.runId) this.error = `Step times unavailable: ${(e as Error).message}`;
      return;
    }
    if (runId !== this.runId) return;
    this.error = null;
    const idx = new StepIndex();
    idx.add(rows);
    const rates = idx.rates(Math.max(5, Math.round(idx.size / 200)));
    const batch = this.batchSize;
    this.steps = rates.map(([s, r]) => pointBin(s, r));
    this.examples = batch ? rates.map(([s, r]) => pointBin(s, r * batch)) : [];
    const tail = rates[rates.length - 1];
    this.latest = tail ? { steps: tail[1], examples: batch ? tail[1] * batch : null } : null;
  }
}

/** A batch size from the well-known config keys, if the run sent one. */
export function batchSizeOf(config: Record<string, unknown>): number | null {
  const v = config.batchSize ?? config.batch_size;
  return typeof v === 'number' && v > 0 ? v : null;
}
