import { LiveSocket, type SocketLike } from '../socket';

/** A WebSocket stand-in for the live socket's tests: records what is sent, delivers what it is given. */
export class FakeWs implements SocketLike {
  readyState = 0;
  sent: unknown[] = [];
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  /** Answer every client message with `ready`, as the server does. */
  constructor(readonly autoReady = false) {}
  send(d: string): void {
    this.sent.push(JSON.parse(d));
    if (this.autoReady) queueMicrotask(() => this.recv({ type: 'ready' }));
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

export function fakeLive(opts: { token?: string | null; autoReady?: boolean } = {}) {
  const sockets: FakeWs[] = [];
  let unauthorized = 0;
  const live = new LiveSocket({
    url: () => 'ws://x/v1/live',
    token: () => opts.token ?? null,
    create: () => {
      const ws = new FakeWs(opts.autoReady ?? false);
      sockets.push(ws);
      return ws;
    },
    onUnauthorized: () => unauthorized++,
  });
  return { live, sockets, unauthorized: () => unauthorized };
}
