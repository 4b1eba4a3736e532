import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BUSY_RETRY_MS, IdleRuns, type Release } from '../../src/ingest/idle-runs.js';
import type { RunSession } from '../../src/ingest/run-session.js';

const session = (uid: string) => ({ uid }) as unknown as RunSession;

describe('IdleRuns', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('tries once the close is handled, again while busy, then when the idle time is up, told how long the run has been idle', async () => {
    const answers: Release[] = ['busy', 'busy', 'waiting', 'released'];
    const idles: number[] = [];
    const idle = new IdleRuns((_s, idleMs) => {
      idles.push(idleMs);
      return answers.shift() ?? 'kept';
    }, 10_000);
    idle.left(session('a'));
    expect(idles).toEqual([]);
    await vi.advanceTimersByTimeAsync(0);
    expect(idles).toEqual([0]);
    await vi.advanceTimersByTimeAsync(2 * BUSY_RETRY_MS);
    expect(idles).toEqual([0, BUSY_RETRY_MS, 2 * BUSY_RETRY_MS]);
    // 'waiting' at 2 s: the next try comes when the 10 s are up, not before.
    await vi.advanceTimersByTimeAsync(10_000 - 2 * BUSY_RETRY_MS - 1);
    expect(idles).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(idles).toEqual([0, BUSY_RETRY_MS, 2 * BUSY_RETRY_MS, 10_000]);
    expect(idle.size).toBe(0);
  });

  it('a kept run is not tried again; leaving again restarts the clock; nothing runs after close', async () => {
    const tries: Array<[string, number]> = [];
    const idle = new IdleRuns((s, idleMs) => {
      tries.push([s.uid, idleMs]);
      if (s.uid !== 'a') return 'kept';
      return idleMs < 5000 ? 'waiting' : 'released';
    }, 5000);
    const a = session('a');
    idle.left(a);
    await vi.advanceTimersByTimeAsync(3000);
    idle.left(a);
    await vi.advanceTimersByTimeAsync(0);
    expect(tries).toEqual([['a', 0], ['a', 0]]);
    idle.left(session('b'));
    await vi.advanceTimersByTimeAsync(10 * BUSY_RETRY_MS);
    expect(tries).toEqual([['a', 0], ['a', 0], ['b', 0], ['a', 5000]]);
    idle.left(a);
    await vi.advanceTimersByTimeAsync(0);
    expect(idle.size).toBe(1);
    idle.close();
    expect(idle.size).toBe(0);
    idle.left(a);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(tries).toHaveLength(5);
  });
});
