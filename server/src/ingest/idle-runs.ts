import type { RunSession } from './run-session.js';

/** What a try at releasing a run's memory found. */
export type Release =
  /** Dropped: the next hello restores the run from what is stored. */
  | 'released'
  /** Not to be released (a job holds it, it was replaced or deleted). */
  | 'kept'
  /** Messages of the run are still queued or being committed (its end, perhaps): tried again shortly. */
  | 'busy'
  /** Not ended, and not without a job for long enough yet: tried again when it will have been. */
  | 'waiting';

/** How soon a release is tried again while the run still has messages on their way to the store. */
export const BUSY_RETRY_MS = 1000;

/**
 * Runs whose job went away, until their memory is released (the rule engine, the point store's
 * tail rows, the open alerts: a megabyte or more a run of many layers). `release` decides, told
 * how long the run has been without its job: at once, again while it is busy, and when the idle
 * time is up; one timer per run at most, none after close().
 */
export class IdleRuns {
  /** By run uid: a session replaced meanwhile (a new hello restores a new one) is not held here. */
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly release: (s: RunSession, idleMs: number) => Release,
    private readonly idleMs: number,
  ) {}

  /** The run's job went away now: a first try once the socket's close has been handled. */
  left(s: RunSession): void {
    this.schedule(new WeakRef(s), s.uid, 0, Date.now());
  }

  private schedule(ref: WeakRef<RunSession>, uid: string, delay: number, since: number): void {
    if (this.closed) return;
    clearTimeout(this.timers.get(uid));
    const t = setTimeout(() => this.fire(ref, uid, since), delay);
    // A run waiting to be released must not keep the process up.
    t.unref();
    this.timers.set(uid, t);
  }

  private fire(ref: WeakRef<RunSession>, uid: string, since: number): void {
    this.timers.delete(uid);
    const s = ref.deref();
    if (!s) return;
    const idle = Date.now() - since;
    const out = this.release(s, idle);
    if (out === 'busy') this.schedule(ref, uid, BUSY_RETRY_MS, since);
    // (A run still waiting past its time is tried again as a busy one: never a tight loop.)
    else if (out === 'waiting') this.schedule(ref, uid, this.idleMs > idle ? this.idleMs - idle : BUSY_RETRY_MS, since);
  }

  /** Whether the run's clock runs already. */
  has(s: RunSession): boolean {
    return this.timers.has(s.uid);
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
