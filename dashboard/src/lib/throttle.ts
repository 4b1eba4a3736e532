export interface Throttled {
  (): void;
  /** Runs now, whatever the last run was. */
  now(): void;
  cancel(): void;
}

/**
 * Runs fn at most once per `ms` (on the trailing edge, so the last call always lands): live data
 * may arrive far faster than a chart needs redrawing, and each redraw of a big chart costs.
 */
export function throttle(fn: () => void, ms = 100, clock: () => number = () => performance.now()): Throttled {
  let last = -Infinity;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const run = () => {
    timer = null;
    last = clock();
    fn();
  };
  const t = (() => {
    if (timer !== null) return;
    const wait = last + ms - clock();
    timer = setTimeout(run, Math.max(0, wait));
  }) as Throttled;
  t.now = () => {
    if (timer !== null) clearTimeout(timer);
    run();
  };
  t.cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  return t;
}
