import { describe, expect, it } from 'vitest';
import { LiveSocket, type SocketLike } from './socket';

class FakeWs implements SocketLike {
  readyState = 0;
  sent: unknown[] = [];
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  send(d: string): void {
    this.sent.push(JSON.parse(d));
  }
  close(): void {
    this.readyState = 3;
    this.onclose?.({ code: 1000 } as CloseEvent);
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({} as Event);
  }
  recv(m: unknown): void {
    this.onmessage?.({ data: JSON.stringify(m) } as MessageEvent);
  }
}

function setup(token: string | null = null) {
  const sockets: FakeWs[] = [];
  let unauthorized = 0;
  const live = new LiveSocket({
    url: () => 'ws://x/v1/live',
    token: () => token,
    create: () => {
      const ws = new FakeWs();
      sockets.push(ws);
      return ws;
    },
    onUnauthorized: () => unauthorized++,
  });
  return { live, sockets, unauthorized: () => unauthorized };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

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
    off();
    sockets[0]?.recv({ type: 'points', runId: 'r1', series: { loss: [[3, 0.5]] } });
    expect(got).toEqual([2]);
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
