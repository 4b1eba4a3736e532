/**
 * Floods from peers that never read: the server must bound what it holds for each socket, close
 * the peer with a reason, stay up, and keep serving an honest job. Before the socket guard, the
 * error replies to one-byte frames piled up without bound until the heap ran out.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, hello, noRules, RawSocket, removeDir, startServer, type TestServer } from '../helpers.js';

// Memory is sampled after a full collection: what the server holds, not the garbage a flood
// leaves for the collector (which, on a busy machine, can run late and double the peak).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const liveHeap = (): number => {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

const ADMIN = 'flood-admin-token-0123456789';
const MAX_BUFFERED = 65536;
const ENV = { GRADWATCH_MAX_BUFFERED_BYTES: String(MAX_BUFFERED), GRADWATCH_LIVE_MAX_BUFFERED_BYTES: String(MAX_BUFFERED), GRADWATCH_MAX_MESSAGES_PER_SECOND: '1000000' };

let open: TestServer;
let authed: TestServer;
beforeAll(async () => {
  open = await startServer({ engineFactory: noRules, env: ENV });
  authed = await startServer({ engineFactory: noRules, env: { ...ENV, GRADWATCH_ADMIN_TOKEN: ADMIN } });
});
afterAll(async () => {
  for (const s of [open, authed]) {
    await s.close();
    removeDir(s.dataDir);
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const paused = (ws: WebSocket) => (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;

interface FloodResult {
  /** ms until the server's end of the socket was closed; null: still open when the flood ended. */
  closedAfterMs: number | null;
  frames: number;
  /** Most bytes the server held unsent for this peer. */
  maxServerBuffered: number;
  heapGrowthMb: number;
  /** The last error the server sent this peer: the reason it was closed. */
  lastError: { code?: string } | undefined;
  closeCode: number | null;
}

/**
 * Opens a socket (optionally says hello), stops reading, then sends `frame` in a loop for up to
 * `ms`, yielding to the (in-process) server between bursts, while sampling the server's end.
 */
async function flood(srv: TestServer, path: string, frame: string | (() => void), opts: { ms?: number; before?: (ws: WebSocket) => Promise<void>; ping?: boolean } = {}): Promise<FloodResult> {
  const before = new Set(srv.app.websocketServer.clients);
  const ws = new WebSocket(`${srv.wsUrl}${path}`);
  const got: Array<{ type: string; code?: string }> = [];
  let closeCode: number | null = null;
  ws.on('message', (d: Buffer) => got.push(JSON.parse(d.toString()) as { type: string }));
  ws.on('close', (c) => (closeCode = c));
  ws.on('error', () => undefined);
  await new Promise((r) => ws.once('open', r));
  await opts.before?.(ws);
  const server = [...srv.app.websocketServer.clients].find((c) => !before.has(c));
  if (!server) throw new Error('server end of the socket not found');
  // What the server told this peer, whether or not a peer that does not read ever sees it.
  const told: Array<{ code?: string }> = [];
  const send = server.send.bind(server) as (d: unknown, ...rest: unknown[]) => void;
  (server as unknown as { send: typeof send }).send = (d, ...rest) => {
    if (typeof d === 'string' && d.startsWith('{"type":"error"')) told.push(JSON.parse(d) as { code?: string });
    send(d, ...rest);
  };
  paused(ws).pause();
  const heap0 = liveHeap();
  let heapMax = heap0;
  let sampled = Date.now();
  let maxServerBuffered = 0;
  let frames = 0;
  let closedAfterMs: number | null = null;
  const t0 = Date.now();
  while (Date.now() - t0 < (opts.ms ?? 3000)) {
    // Once the server is closing, the flood stops, so that the reason is not lost to a reset.
    if (server.readyState !== server.OPEN) {
      closedAfterMs = Date.now() - t0;
      break;
    }
    if (ws.readyState === ws.OPEN && ws.bufferedAmount < 1 << 20) {
      for (let i = 0; i < 500; i++) {
        if (opts.ping) ws.ping();
        else if (typeof frame === 'string') ws.send(frame);
        else frame();
      }
      frames += 500;
    }
    maxServerBuffered = Math.max(maxServerBuffered, server.bufferedAmount);
    if (Date.now() - sampled >= 200) {
      heapMax = Math.max(heapMax, liveHeap());
      sampled = Date.now();
    }
    await new Promise((r) => setImmediate(r));
  }
  heapMax = Math.max(heapMax, liveHeap());
  paused(ws).resume();
  for (let i = 0; i < 60 && closeCode === null; i++) await sleep(50);
  expect(server.readyState, 'the server cuts a closed socket within its grace period').toBe(server.CLOSED);
  if (process.env.FLOOD_DEBUG) console.log({ frames, closedAfterMs, closeCode, got: got.length, last: got.slice(-2), maxServerBuffered, heapMb: (heapMax - heap0) / 2 ** 20 });
  ws.terminate();
  return { closedAfterMs, frames, maxServerBuffered, heapGrowthMb: (heapMax - heap0) / 2 ** 20, lastError: told.pop(), closeCode };
}

/** An honest job on the same server: hello, two batches, both acked and stored. */
async function honest(srv: TestServer, id: string, token?: string): Promise<void> {
  const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
  s.send(hello(id, token ? { token } : {}));
  await s.next((m) => m.type === 'welcome');
  s.send({ type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 1 } }] });
  s.send({ type: 'steps', seq: 2, items: [{ step: 1, scalars: { loss: 0.5 } }] });
  await s.ack(2);
  s.close();
  const res = await getJson<{ points: unknown[] }>(`${srv.url}/api/v1/runs/${id}/series/export?name=loss`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  expect(res.body.points).toEqual([[0, 1], [1, 0.5]]);
}

const sayHello = (id: string, token?: string) => async (ws: WebSocket) => {
  const welcome = new Promise((r) => ws.once('message', r));
  ws.send(JSON.stringify(hello(id, token ? { token } : {})));
  await welcome;
};

describe('a peer that floods and never reads', () => {
  it('ingest, before hello: closed with abuse after a small budget; the server stays up and serves', async () => {
    const r = await flood(open, '/v1/ingest', 'x');
    expect(r.closedAfterMs, `still open after ${r.frames} frames, ${r.maxServerBuffered} bytes queued`).not.toBeNull();
    expect(r.maxServerBuffered).toBeLessThanOrEqual(MAX_BUFFERED + 4096);
    expect(r.heapGrowthMb).toBeLessThan(16);
    expect(r.lastError?.code).toBe('abuse');
    await honest(open, 'flood-honest-1');
  });

  it('ingest with auth on and no token: the same', async () => {
    const r = await flood(authed, '/v1/ingest', 'x');
    expect(r.closedAfterMs).not.toBeNull();
    expect(r.heapGrowthMb).toBeLessThan(16);
    expect(r.lastError?.code).toBe('abuse');
    await honest(authed, 'flood-honest-2', ADMIN);
  });

  it('ingest after hello, garbage: closed with abuse once its error budget is spent', async () => {
    const r = await flood(open, '/v1/ingest', '{', { before: sayHello('flood-garbage') });
    expect(r.closedAfterMs).not.toBeNull();
    expect(r.maxServerBuffered).toBeLessThanOrEqual(MAX_BUFFERED + 4096);
    expect(['abuse', 'slow_consumer']).toContain(r.lastError?.code);
    await honest(open, 'flood-honest-3');
  });

  it('ingest after hello, re-sends of an acked seq (each answered with an ack, no error): closed as slow_consumer', async () => {
    const resend = JSON.stringify({ type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 1 } }] });
    const r = await flood(open, '/v1/ingest', resend, {
      ms: 15_000,
      before: async (ws) => {
        await sayHello('flood-acks')(ws);
        const acked = new Promise((res) => ws.once('message', res));
        ws.send(resend);
        await acked;
      },
    });
    expect(r.closedAfterMs, `still open after ${r.frames} frames`).not.toBeNull();
    expect(r.maxServerBuffered).toBeLessThanOrEqual(MAX_BUFFERED + 4096);
    expect(r.heapGrowthMb).toBeLessThan(16);
    expect(r.lastError?.code).toBe('slow_consumer');
    await honest(open, 'flood-honest-4');
  });

  it('live, garbage: closed; live, valid subscribes (each answered with ready): closed as slow_consumer', async () => {
    const g = await flood(open, '/v1/live', 'x');
    expect(g.closedAfterMs).not.toBeNull();
    expect(g.heapGrowthMb).toBeLessThan(16);
    const s = await flood(open, '/v1/live', JSON.stringify({ type: 'subscribe', runs: ['flood-honest-1'], series: ['loss'] }), { ms: 15_000 });
    expect(s.closedAfterMs, `still open after ${s.frames} frames`).not.toBeNull();
    expect(s.maxServerBuffered).toBeLessThanOrEqual(MAX_BUFFERED + 4096);
    expect(s.lastError?.code).toBe('slow_consumer');
    const live = await RawSocket.open(`${open.wsUrl}/v1/live`);
    live.send({ type: 'subscribe', runs: ['flood-honest-1'] });
    expect(await live.next((m) => (m as { type: string }).type === 'ready')).toBeTruthy();
    live.close();
  });

  it('live with auth on and no token: closed with abuse', async () => {
    const r = await flood(authed, '/v1/live', JSON.stringify({ type: 'subscribe', runs: ['x'] }));
    expect(r.closedAfterMs).not.toBeNull();
    expect(r.lastError?.code).toBe('abuse');
  });

  it('pings (answered by the WebSocket library with pongs): cut off; the server stays up', async () => {
    const r = await flood(open, '/v1/ingest', '', { ping: true, before: sayHello('flood-ping') });
    expect(r.closedAfterMs).not.toBeNull();
    expect(r.heapGrowthMb).toBeLessThan(16);
    await honest(open, 'flood-honest-5');
  });
});

describe('repeated hellos', () => {
  it('are rate limited per connection after a burst of 10 (each is a write that forces a commit of every queue)', async () => {
    const s = await RawSocket.open(`${open.wsUrl}/v1/ingest`);
    for (let i = 0; i < 15; i++) s.send(hello('hello-flood'));
    for (let i = 0; i < 200 && s.received.length < 15; i++) await sleep(25);
    const kinds = s.received.map((m) => (m.type === 'error' ? m.code : m.type));
    expect(kinds.filter((k) => k === 'welcome').length).toBe(10);
    expect(kinds.filter((k) => k === 'rate_limited').length).toBe(5);
    s.close();
    await honest(open, 'flood-honest-6');
  });
});

describe('shutdown', () => {
  it('is not held up by peers that do not read (once: ws waited 30 s for their close handshake)', async () => {
    const s = await startServer({ engineFactory: noRules });
    const peers: WebSocket[] = [];
    for (let i = 0; i < 3; i++) {
      const ws = new WebSocket(`${s.wsUrl}/v1/ingest`);
      ws.on('error', () => undefined);
      await new Promise((r) => ws.once('open', r));
      await sayHello(`shutdown-${i}`)(ws);
      paused(ws).pause();
      peers.push(ws);
    }
    const t0 = Date.now();
    await s.close();
    expect(Date.now() - t0).toBeLessThan(5000);
    for (const ws of peers) ws.terminate();
    removeDir(s.dataDir);
  });
});

describe('deadlines and budgets for unauthenticated sockets', () => {
  let quick: TestServer;
  beforeAll(async () => {
    quick = await startServer({ engineFactory: noRules, env: { GRADWATCH_HELLO_TIMEOUT_MS: '300', GRADWATCH_ADMIN_TOKEN: ADMIN } });
  });
  afterAll(async () => {
    await quick.close();
    removeDir(quick.dataDir);
  });
  const closed = (s: RawSocket) => new Promise<number>((r) => (s.closeCode !== null ? r(s.closeCode) : s.ws.once('close', (c) => r(c))));

  it('an ingest socket that never says hello is closed with hello_timeout; one that does stays open', async () => {
    const idle = await RawSocket.open(`${quick.wsUrl}/v1/ingest`);
    const good = await RawSocket.open(`${quick.wsUrl}/v1/ingest`);
    good.send(hello('deadline-ok', { token: ADMIN }));
    await good.next((m) => m.type === 'welcome');
    expect(await idle.error()).toMatchObject({ code: 'hello_timeout', message: expect.stringMatching(/300 ms/) });
    expect(await closed(idle)).toBe(1008);
    await sleep(400);
    expect(good.closeCode).toBeNull();
    good.close();
  });

  it('a live socket with auth on and no token must authenticate in time', async () => {
    const idle = await RawSocket.open(`${quick.wsUrl}/v1/live`);
    expect(await idle.error()).toMatchObject({ code: 'hello_timeout' });
    expect(await closed(idle)).toBe(1008);
    const withToken = await RawSocket.open(`${quick.wsUrl}/v1/live?token=${ADMIN}`);
    await sleep(500);
    expect(withToken.closeCode).toBeNull();
    withToken.close();
  });

  it('before hello, a few errors are answered; then the socket is closed with abuse', async () => {
    const s = await RawSocket.open(`${quick.wsUrl}/v1/ingest`);
    for (let i = 0; i < 8; i++) s.send('not json');
    expect(await closed(s)).toBe(1008);
    const codes = s.received.map((m) => (m as { code?: string }).code);
    expect(codes).toEqual(['bad_json', 'bad_json', 'bad_json', 'bad_json', 'bad_json', 'abuse']);
  });
});
