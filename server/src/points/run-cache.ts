/**
 * Runs whose write state stays in memory (a tail is up to 2 x CHUNK_ROWS packed rows, 2 MB for
 * 1,000 series): the least recently written beyond these are read again when next written.
 */
export const MAX_CACHED_RUNS = 256;

/** Per-run state of the runs being written, least recently used first out. */
export class RunCache<T> {
  private readonly entries = new Map<number, T>();

  constructor(private readonly max = MAX_CACHED_RUNS) {}

  /** The run's state, loaded when not held; it becomes the most recently used. */
  get(runId: number, load: () => T): T {
    let v = this.entries.get(runId);
    if (v !== undefined) {
      this.entries.delete(runId);
    } else {
      v = load();
      for (const old of this.entries.keys()) {
        if (this.entries.size < this.max) break;
        this.entries.delete(old);
      }
    }
    this.entries.set(runId, v);
    return v;
  }

  /** The state held, without loading or reordering. */
  peek(runId: number): T | undefined {
    return this.entries.get(runId);
  }

  delete(runId: number): void {
    this.entries.delete(runId);
  }
}
