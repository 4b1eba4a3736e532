import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdleRuns, type Release } from '../../src/ingest/idle-runs.js';
import type { RunSession } from '../../src/ingest/run-session.js';

const session = (uid: string) => ({ uid }) as unknown as RunSession;

describe('IdleRuns', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('tries at once, again every second while busy, then when the idle time is up', async () => {
    const answers: Release[] = ['busy', 'busy', 'waiting', 'released'];
    const calls: number[] = [];
    const idle = new IdleRuns(async (_s, idleMs) => {
      calls.push(idleMs);
      return answers.shift() ?? 'kept';
    }, 10_000);
    idle.left(session('a'));
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual([0]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(calls).toEqual([0, 1000, 2000]);
    expect(idle.size).toBe(1);
    // 'waiting' at 2 s: the next try comes when the 10 s are up, not before.
    await vi.advanceTimersByTimeAsync(7999);
    expect(calls).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toEqual([0, 1000, 2000, 10_000]);
    expect(idle.size).toBe(0);
  });

  it('a failed try counts as busy; leaving again restarts the clock; close stops every timer', async () => {
    const calls: Array<[string, number]> = [];
    let fail = true;
    const idle = new IdleRuns(async (s, idleMs) => {
      calls.push([s.uid, idleMs]);
      if (fail) {
        fail = false;
        throw new Error('database unreachable');
      }
      return 'waiting';
    }, 5000);
    const a = session('a');
    idle.left(a);
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toEqual([['a', 0], ['a', 1000]]);
    await vi.advanceTimersByTimeAsync(2000);
    idle.left(a);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.at(-1)).toEqual(['a', 0]);
    idle.left(session('b'));
    await vi.advanceTimersByTimeAsync(0);
    expect(idle.size).toBe(2);
    idle.close();
    expect(idle.size).toBe(0);
    const n = calls.length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(n);
  });
});
