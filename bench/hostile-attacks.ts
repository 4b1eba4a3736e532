/**
 * The hostile side of bench/hostile.ts, run as its own process so that its busy loops do not
 * delay the honest jobs' clock: floods that never read (ingest before and after hello, live,
 * pings), poison names, auth probes (bad tokens on both sockets and REST), oversized and
 * over-fragmented frames. Each attacker reconnects as soon as the server closes it, until the
 * duration is up; it then prints one JSON line of counts.
 *
 *   tsx bench/hostile-attacks.ts <wsUrl> <httpUrl> <seconds> <token>
 */
import WebSocket from 'ws';

const [wsUrl, httpUrl, secondsArg, token] = process.argv.slice(2) as [string, string, string, string];
const until = Date.now() + Number(secondsArg) * 1000;
const counts: Record<string, { connects: number; frames: number; closedByServer: number }> = {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Attack = (ws: WebSocket, note: () => void) => Promise<void>;
const pauseReads = (ws: WebSocket) => (ws as unknown as { _socket: { pause(): void } })._socket.pause();

/** Sends `frame` in bursts while the server keeps the socket open, never reading. */
const floodOf = (frame: () => string | null, before?: (ws: WebSocket) => Promise<void>, ping = false): Attack => async (ws, note) => {
  await before?.(ws);
  pauseReads(ws);
  while (ws.readyState === ws.OPEN && Date.now() < until) {
    if (ws.bufferedAmount < 1 << 20) {
      for (let i = 0; i < 200; i++) {
        if (ping) ws.ping();
        else {
          const f = frame();
          if (f !== null) ws.send(f);
        }
        note();
      }
    }
    await new Promise((r) => setImmediate(r));
  }
};

const helloAs = (id: string, tok: string | undefined) => async (ws: WebSocket) => {
  const got = new Promise((r) => ws.once('message', r));
  ws.send(JSON.stringify({ type: 'hello', protocol: 1, run: { id, project: 'hostile', name: id }, ...(tok ? { token: tok } : {}) }));
  await Promise.race([got, sleep(2000)]);
};

let poisonSeq = 0;
const attacks: Record<string, { path: string; attack: Attack }> = {
  'ingest flood, no hello': { path: '/v1/ingest', attack: floodOf(() => 'x') },
  'ingest flood, bad token': { path: '/v1/ingest', attack: floodOf(() => '{', helloAs('hostile-badtoken', 'not-the-token-at-all')) },
  'ingest flood after hello': { path: '/v1/ingest', attack: floodOf(() => '{"type":"steps"', helloAs('hostile-flood', token)) },
  'ingest re-send flood (acks)': {
    path: '/v1/ingest',
    attack: floodOf(() => '{"type":"steps","seq":1,"items":[{"step":0,"scalars":{"loss":1}}]}', async (ws) => {
      await helloAs('hostile-acks', token)(ws);
      ws.send('{"type":"steps","seq":1,"items":[{"step":0,"scalars":{"loss":1}}]}');
      await sleep(50);
    }),
  },
  'live flood, no token': { path: '/v1/live', attack: floodOf(() => '{"type":"subscribe","runs":["honest-0"]}') },
  'ping flood': { path: '/v1/ingest', attack: floodOf(() => null, helloAs('hostile-ping', token), true) },
  'poison names': {
    path: '/v1/ingest',
    attack: async (ws, note) => {
      await helloAs(`hostile-poison-${poisonSeq++ % 4}`, token)(ws);
      ws.on('message', () => undefined);
      for (let seq = 1; ws.readyState === ws.OPEN && Date.now() < until; seq++) {
        ws.send(`{"type":"steps","seq":${seq},"items":[{"step":${seq},"scalars":{"\\ud800":1,"loss\\udfff":2}}]}`);
        note();
        await sleep(2);
      }
    },
  },
  'oversized and fragmented frames': {
    path: '/v1/ingest',
    attack: async (ws, note) => {
      const big = Buffer.alloc(5 << 20, 0x20);
      ws.send(big, { binary: false });
      note();
      for (let i = 0; i < 20_000 && ws.readyState === ws.OPEN; i++) ws.send(Buffer.alloc(0), { binary: false, fin: false });
      note();
      await sleep(200);
    },
  },
};

async function keepAttacking(name: string, a: { path: string; attack: Attack }): Promise<void> {
  const c = (counts[name] = { connects: 0, frames: 0, closedByServer: 0 });
  while (Date.now() < until) {
    const ws = new WebSocket(`${wsUrl}${a.path}`, { maxPayload: 64 << 20 });
    ws.on('error', () => undefined);
    const closed = new Promise<void>((r) => ws.once('close', () => r()));
    try {
      await new Promise<void>((res, rej) => {
        ws.once('open', () => res());
        ws.once('error', rej);
      });
    } catch {
      await sleep(100);
      continue;
    }
    c.connects++;
    await a.attack(ws, () => c.frames++);
    if (ws.readyState !== ws.OPEN) c.closedByServer++;
    ws.terminate();
    await closed;
    await sleep(20);
  }
}

/** Tokens that are not the token, on REST, in a loop. */
async function authProbes(): Promise<void> {
  const c = (counts['REST auth probes'] = { connects: 0, frames: 0, closedByServer: 0 });
  for (let i = 0; Date.now() < until; i++) {
    try {
      const res = await fetch(`${httpUrl}/api/v1/runs`, { headers: { authorization: `Bearer probe-${i}-${'x'.repeat(i % 64)}` } });
      await res.arrayBuffer();
      if (res.status === 401 || res.status === 403) c.frames++;
    } catch {
      // the server refused the connection: counted by its absence
    }
    await sleep(5);
  }
}

await Promise.all([...Object.entries(attacks).map(([n, a]) => keepAttacking(n, a)), authProbes()]);
console.log(JSON.stringify(counts));
