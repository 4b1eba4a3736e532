import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { FRAME_MS, LiveHub } from '../../src/live/hub.js';

function fakeSocket(): { socket: WebSocket; frames: unknown[] } {
  const frames: unknown[] = [];
  const socket = { OPEN: 1, readyState: 1, bufferedAmount: 0, send: (t: string) => frames.push(JSON.parse(t)), close: () => undefined };
  return { socket: socket as unknown as WebSocket, frames };
}

describe('LiveHub series filter', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends the filtered series of every step, whatever shape each step has, and follows a new filter', async () => {
    const hub = new LiveHub(async () => null, 1 << 20);
    const a = fakeSocket();
    const b = fakeSocket();
    const ca = hub.attach(a.socket);
    hub.subscribe(ca, ['r'], ['loss', 'layer/x/update_ratio']);
    hub.subscribe(hub.attach(b.socket), ['r'], undefined);
    // Steps of two shapes, alternating, each shape's names array shared as the decoder shares it.
    const wide = ['loss', 'lr', 'layer/x/update_ratio', 'layer/y/update_ratio'];
    const narrow = ['lr', 'loss'];
    hub.points('r', [
      { step: 1, names: wide, values: [1, 0.1, 0.01, 0.02] },
      { step: 2, names: narrow, values: [0.1, 2] },
      { step: 3, names: wide, values: [3, 0.1, Number.NaN, 0.03] },
    ]);
    await vi.advanceTimersByTimeAsync(FRAME_MS);
    expect(a.frames).toEqual([{ type: 'points', runId: 'r', series: { loss: [[1, 1], [2, 2], [3, 3]], 'layer/x/update_ratio': [[1, 0.01], [3, 'NaN']] } }]);
    expect(b.frames).toHaveLength(1);
    expect(Object.keys((b.frames[0] as { series: object }).series)).toEqual(['loss', 'lr', 'layer/x/update_ratio', 'layer/y/update_ratio']);

    hub.subscribe(ca, ['r'], ['lr']);
    hub.points('r', [{ step: 4, names: wide, values: [4, 0.2, 0.04, 0.05] }]);
    await vi.advanceTimersByTimeAsync(FRAME_MS);
    expect(a.frames.at(-1)).toEqual({ type: 'points', runId: 'r', series: { lr: [[4, 0.2]] } });
  });
});
