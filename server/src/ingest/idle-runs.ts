import type { RunSession } from './run-session.js';

/** What a try at releasing a run's memory found. */
export type Release =
  /** Dropped: the next hello restores the run from what is stored. */
  | 'released'
  /** Not to be released (a job holds it, it has not ended, it was replaced or deleted). */
  | 'kept'
  /** Messages of the run are still queued or being committed (its end, perhaps): tried again shortly. */
  | 'busy';

/** How soon a release is tried again while the run still has messages on their way to the store. */
export const BUSY_RETRY_MS = 1000;

/**
 * Runs whose job went away, until their memory is released (the rule engine, the point store's
 * tail rows, the open alerts: a megabyte or more a run of many layers). `release` decides, at
 * once and again while the run is busy; one timer per run at most, none after close().
 */
export class IdleRuns {
  private readonly timers = new Map<RunSession, NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly release: (s: RunSession) => Release) {}

  /** The run's job went away: a try once the socket's close has been handled. */
  left(s: RunSession): void {
    this.schedule(s, 0);
  }

  private schedule(s: RunSession, delay: number): void {
    if (this.closed) return;
    clearTimeout(this.timers.get(s));
    const t = setTimeout(() => this.fire(s), delay);
    // A run waiting to be released must not keep the process up.
    t.unref();
    this.timers.set(s, t);
  }

  private fire(s: RunSession): void {
    this.timers.delete(s);
    if (this.release(s) === 'busy') this.schedule(s, BUSY_RETRY_MS);
  }

  /** Runs waiting for a try. */
  get size(): number {
    return this.timers.size;
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
