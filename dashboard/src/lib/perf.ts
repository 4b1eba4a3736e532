/**
 * Performance marks for the benchmark (bench/dashboard.ts), off unless the page sets
 * window.__gwPerf before it loads: a dashboard left open for days must not fill the
 * performance buffer with ten redraw measures a second per chart.
 */
const on = (): boolean => typeof window !== 'undefined' && (window as unknown as { __gwPerf?: boolean }).__gwPerf === true;

export function mark(name: string): void {
  if (on()) performance.mark(name);
}

export function measureSince(name: string, start: number, detail?: unknown): void {
  if (on()) performance.measure(name, { start, end: performance.now(), detail });
}
