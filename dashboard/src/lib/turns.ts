/**
 * A new task per call, without setTimeout's clamp: nested timeouts wait at least 4 ms each after
 * the fifth, which a queue of a dozen charts would pay at every page load.
 */
function nextTask(): (run: () => void) => void {
  if (typeof MessageChannel === 'undefined') return (run) => setTimeout(run, 0);
  const ch = new MessageChannel();
  const runs: Array<() => void> = [];
  ch.port1.onmessage = () => runs.shift()?.();
  return (run) => {
    runs.push(run);
    ch.port2.postMessage(null);
  };
}

/**
 * Runs queued jobs one per task, in order. A page creates a dozen charts at once, each a layout
 * of tens of milliseconds: done in one go they hold the main thread for a quarter of a second,
 * and the socket's answer that lets the page's data load start waits behind them. One job per
 * task lets that answer (and a paint) in between, so the server works while charts are made.
 */
export class Turns {
  private queue: Array<() => void> = [];
  private scheduled = false;

  constructor(private readonly schedule: (run: () => void) => void = nextTask()) {}

  /** Queues fn; the returned function takes it out again if it has not run. */
  add(fn: () => void): () => void {
    this.queue.push(fn);
    this.wake();
    return () => {
      const i = this.queue.indexOf(fn);
      if (i >= 0) this.queue.splice(i, 1);
    };
  }

  private wake(): void {
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      this.queue.shift()?.();
      this.wake();
    });
  }
}

/** The page's one queue of chart creations and redraws. */
export const chartTurns = new Turns();
