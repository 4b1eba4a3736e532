import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { throttle } from './throttle';

describe('throttle', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs at most once per period and always runs the last call', () => {
    const fn = vi.fn();
    const t = throttle(fn, 100, () => Date.now());
    for (let i = 0; i < 50; i++) {
      t();
      vi.advanceTimersByTime(10);
    }
    vi.advanceTimersByTime(200);
    // 500 ms of calls every 10 ms: about five runs, never fifty.
    expect(fn.mock.calls.length).toBeGreaterThanOrEqual(5);
    expect(fn.mock.calls.length).toBeLessThanOrEqual(6);
  });

  it('can be cancelled', () => {
    const fn = vi.fn();
    const t = throttle(fn, 100, () => Date.now());
    t();
    t.cancel();
    vi.advanceTimersByTime(500);
    expect(fn).not.toHaveBeenCalled();
  });
});
