import { describe, expect, it } from 'vitest';
import { POINTS_EVERY_MS } from './socket';
import { fakeLive } from './testing/fake-ws';

const setup = (token: string | null = null) => fakeLive({ token });

const tick = () => new Promise((r) => setTimeout(r, 0));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LiveSocket', () => {
  it('authenticates first, then sends the merged subscriptions', async () => {
    const { live, sockets } = setup('secret-token');
    live.subscribe(['r1'], ['loss']);
    live.subscribe(['r1'], ['lr']);
    live.subscribe(['*']);
    sockets[0]?.open();
    await tick();
    expect(sockets[0]?.sent).toEqual([
      { type: 'auth', token: 'secret-token' },
      { type: 'subscribe', runs: ['r1'], series: ['loss', 'lr'] },
      { type: 'subscribe', runs: ['*'] },
    ]);
  });

  it('narrows and drops subscriptions as views go away', async () => {
    const { live, sockets } = setup();
    const a = live.subscribe(['r1'], ['loss']);
    const b = live.subscribe(['r1']);
    sockets[0]?.open();
    await tick();
    expect(live.wanted().get('r1')).toBeNull();
    b();
    await tick();
    a();
    await tick();
    expect(sockets[0]?.sent.slice(1)).toEqual([
      { type: 'subscribe', runs: ['r1'], series: ['loss'] },
      { type: 'unsubscribe', runs: ['r1'] },
    ]);
  });

  it('delivers typed events to listeners until they unsubscribe themselves', async () => {
    const { live, sockets } = setup();
    const got: number[] = [];
    const off = live.on('points', (m) => got.push(m.series.loss?.length ?? 0));
    live.subscribe(['r1']);
    sockets[0]?.open();
    sockets[0]?.recv({ type: 'points', runId: 'r1', series: { loss: [[1, 0.5], [2, 'NaN']] } });
    await sleep(POINTS_EVERY_MS + 20);
    off();
    sockets[0]?.recv({ type: 'points', runId: 'r1', series: { loss: [[3, 0.5]] } });
    await sleep(POINTS_EVERY_MS + 20);
    expect(got).toEqual([2]);
  });

  it('hands the points frames of a burst on together, in order, at most once per period', async () => {
    const { live, sockets } = setup();
    // A burst is what listeners receive within one synchronous run (before any microtask).
    let burst = 0;
    let closing = false;
    const calls: Array<[string, number, number]> = [];
    live.on('points', (m) => {
      calls.push([m.runId, burst, performance.now()]);
      if (!closing) {
        closing = true;
        queueMicrotask(() => {
          burst++;
          closing = false;
        });
      }
    });
    live.subscribe(['a', 'b', 'c']);
    sockets[0]?.open();
    for (const runId of ['a', 'b', 'c']) sockets[0]?.recv({ type: 'points', runId, series: { loss: [[1, 1]] } });
    await sleep(20);
    sockets[0]?.recv({ type: 'points', runId: 'a', series: { loss: [[2, 1]] } });
    await sleep(POINTS_EVERY_MS * 2);
    expect(calls.map((c) => [c[0], c[1]])).toEqual([['a', 0], ['b', 0], ['c', 0], ['a', 1]]);
    expect((calls[3]?.[2] ?? 0) - (calls[0]?.[2] ?? 0)).toBeGreaterThanOrEqual(POINTS_EVERY_MS - 5);
  });

  it('is synced only once the server has answered every subscription', async () => {
    const { live, sockets } = setup('tok');
    let synced: boolean | null = null;
    live.subscribe(['r1'], ['loss']);
    void live.whenSynced(5000).then((ok) => (synced = ok));
    sockets[0]?.open();
    await tick();
    expect(sockets[0]?.sent).toHaveLength(2);
    sockets[0]?.recv({ type: 'ready' });
    await tick();
    expect(synced).toBeNull();
    sockets[0]?.recv({ type: 'ready' });
    await tick();
    expect(synced).toBe(true);
    // A new subscription is pending again until its answer arrives.
    live.subscribe(['r2']);
    expect(live.synced).toBe(false);
    await tick();
    sockets[0]?.recv({ type: 'error', code: 'forbidden', message: 'not yours' });
    expect(live.synced).toBe(true);
  });

  it('gives up waiting for a socket that does not open', async () => {
    const { live } = setup();
    live.subscribe(['r1']);
    expect(await live.whenSynced(30)).toBe(false);
  });

  it('re-sends every subscription after a reconnect and says it was one', async () => {
    const { live, sockets } = setup();
    const opens: boolean[] = [];
    live.on('open', (e) => opens.push(e.reconnect));
    live.subscribe(['r1'], ['loss']);
    sockets[0]?.open();
    await tick();
    live.reconnect();
    sockets[1]?.open();
    expect(sockets[1]?.sent).toEqual([{ type: 'subscribe', runs: ['r1'], series: ['loss'] }]);
    expect(opens).toEqual([false, true]);
  });

  it('stops retrying and asks for a token when unauthorized', async () => {
    const { live, sockets, unauthorized } = setup('bad');
    live.subscribe(['*']);
    sockets[0]?.open();
    sockets[0]?.recv({ type: 'error', code: 'unauthorized', message: 'no' });
    sockets[0]?.close();
    await new Promise((r) => setTimeout(r, 700));
    expect(unauthorized()).toBe(1);
    expect(sockets).toHaveLength(1);
  });
});
