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
  latest = $state<{ steps: number; examples: number | null } | null>(null);
  version = $state(0);
  error = $state<string | null>(null);
  private lastStep: number | null = null;
  private readonly refreshSoon = throttle(() => void this.load(), 5000);

  constructor(readonly runId: string, readonly batchSize: number | null) {}

  update(lastStep: number | null): void {
    if (lastStep === this.lastStep) return;
    const first = this.lastStep === null;
    this.lastStep = lastStep;
    if (first) void this.load();
    else this.refreshSoon();
  }

  async load(): Promise<void> {
    const last = this.lastStep ?? 0;
    let rows;
    try {
      rows = await api.steps(this.runId, { from: Math.max(0, last - THROUGHPUT_WINDOW), limit: THROUGHPUT_WINDOW + 1 });
      this.error = null;
    } catch (e) {
      this.error = `Step times unavailable: ${(e as Error).message}`;
      return;
    }
    const idx = new StepIndex();
    idx.add(rows);
    const rates = idx.rates(Math.max(5, Math.round(idx.size / 200)));
    this.steps = rates.map(([s, r]) => pointBin(s, r));
    this.examples = this.batchSize ? rates.map(([s, r]) => pointBin(s, r * (this.batchSize as number))) : [];
    const tail = rates[rates.length - 1];
    this.latest = tail ? { steps: tail[1], examples: this.batchSize ? tail[1] * this.batchSize : null } : null;
    this.version++;
  }

  dispose(): void {
    this.refreshSoon.cancel();
  }
}

/** A batch size from the well-known config keys, if the run sent one. */
export function batchSizeOf(config: Record<string, unknown>): number | null {
  const v = config.batchSize ?? config.batch_size;
  return typeof v === 'number' && v > 0 ? v : null;
}
