import type { RunSession } from './run-session.js';

/** What a try at releasing a run's memory found. */
export type Release =
  /** Dropped: the next hello restores the run from what is stored. */
  | 'released'
  /** A job holds the run again, or it was replaced or deleted meanwhile: nothing to do. */
  | 'kept'
  /** Messages of the run are still queued or being committed: tried again shortly. */
  | 'busy'
  /** Not ended and not idle for long enough yet: tried again when it will be. */
  | 'waiting';

/** How soon a release is tried again while the run still has messages on their way to the store. */
const BUSY_RETRY_MS = 1000;

/**
 * Runs whose job went away, until their memory is released (the rule engine's windows, the
 * point store's tail rows, the open alerts: a megabyte or more a run of many layers). Without
 * this every run a server ever ingested stays in memory until it restarts. `release` decides
 * with the time the run has been without a job; one timer per run, none kept beyond it.
 */
export class IdleRuns {
  private readonly timers = new Map<RunSession, NodeJS.Timeout>();

  constructor(
    private readonly release: (s: RunSession, idleMs: number) => Promise<Release>,
    private readonly idleMs: number,
  ) {}

  /** The run's job went away now (an ended run is released at once, once its messages are stored). */
  left(s: RunSession): void {
    this.schedule(s, 0, Date.now());
  }

  private schedule(s: RunSession, delay: number, since: number): void {
    clearTimeout(this.timers.get(s));
    const t = setTimeout(() => void this.fire(s, since), delay);
    // A run waiting to be released must not keep the process up.
    t.unref();
    this.timers.set(s, t);
  }

  private async fire(s: RunSession, since: number): Promise<void> {
    this.timers.delete(s);
    const idle = Date.now() - since;
    const out = await this.release(s, idle).catch((): Release => 'busy');
    if (out === 'busy') this.schedule(s, BUSY_RETRY_MS, since);
    else if (out === 'waiting') this.schedule(s, Math.max(this.idleMs - idle, 0), since);
  }

  /** Runs waiting to be released. */
  get size(): number {
    return this.timers.size;
  }

  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
