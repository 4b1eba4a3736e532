import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BUSY_RETRY_MS, IdleRuns, type Release } from '../../src/ingest/idle-runs.js';
import type { RunSession } from '../../src/ingest/run-session.js';

const session = (uid: string) => ({ uid }) as unknown as RunSession;

describe('IdleRuns', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('tries once the close is handled, again while the run is busy, and stops at its answer', async () => {
    const answers: Release[] = ['busy', 'busy', 'released'];
    const at: number[] = [];
    const t0 = Date.now();
    const idle = new IdleRuns(() => {
      at.push(Date.now() - t0);
      return answers.shift() ?? 'kept';
    });
    idle.left(session('a'));
    expect(at).toEqual([]);
    await vi.advanceTimersByTimeAsync(0);
    expect(at).toEqual([0]);
    await vi.advanceTimersByTimeAsync(10 * BUSY_RETRY_MS);
    expect(at).toEqual([0, BUSY_RETRY_MS, 2 * BUSY_RETRY_MS]);
    expect(idle.size).toBe(0);
  });

  it('a kept run is not tried again; leaving again replaces a waiting try; nothing runs after close', async () => {
    const tries: string[] = [];
    const idle = new IdleRuns((s) => {
      tries.push(s.uid);
      return s.uid === 'busy' ? 'busy' : 'kept';
    });
    const a = session('a');
    idle.left(a);
    idle.left(a);
    await vi.advanceTimersByTimeAsync(5 * BUSY_RETRY_MS);
    expect(tries).toEqual(['a']);
    idle.left(session('busy'));
    await vi.advanceTimersByTimeAsync(0);
    expect(idle.size).toBe(1);
    idle.close();
    expect(idle.size).toBe(0);
    idle.left(a);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(tries).toEqual(['a', 'busy']);
  });
});
