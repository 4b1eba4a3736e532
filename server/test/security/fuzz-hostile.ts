/**
 * What the rounds fuzz adds around the cases: a restart of the server on the same port and data
 * directory, peers that flood and never read, and run ids that a careless layer would fold
 * together (case, leading zeros, number spellings, trailing punctuation, prototype names).
 */
import WebSocket from 'ws';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { TestServer } from '../helpers.js';

/** Closes the server (SIGTERM's path: flush, tell every socket, close) and starts it again on the same port and file. */
export async function restartOnSamePort(srv: TestServer, env: Record<string, string>): Promise<TestServer> {
  const port = Number(new URL(srv.url).port);
  await srv.app.close();
  const config = loadConfig({ GRADWATCH_DATA_DIR: srv.dataDir, GRADWATCH_PORT: String(port), GRADWATCH_LOG_LEVEL: 'warn', ...env });
  const app = await buildApp({ config, logger: false });
  await app.listen({ host: '127.0.0.1', port });
  return { app, url: srv.url, wsUrl: srv.wsUrl, dataDir: srv.dataDir, close: () => app.close() };
}

/** Ids valid for the RunId pattern, each distinct from the others only in a way some layer might canonicalize away. */
export function nonCanonicalIds(prefix: string, bare: boolean): string[] {
  const own = ['007', '7', '1e3', '1000', '0x10', '16', 'A', 'a', 'x.', 'x:', 'x..y', 'x-', '1.0', '1'].map((s) => `${prefix}${s}`);
  return bare ? ['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'NaN', 'null', 'undefined', 'true', '0', '00', ...own] : own;
}

export interface NonReaders {
  stop(): Promise<{ connects: number; closedByServer: number }>;
}

/**
 * Peers that stop reading and keep sending at a modest rate (the in-process server shares this
 * thread): garbage before hello, and re-sends of an acked message after hello (answered by acks,
 * not errors). Each reconnects once the server has closed it.
 */
export function startNonReaders(wsUrl: string, token: string, n: number): NonReaders {
  let running = true;
  let connects = 0;
  let closedByServer = 0;
  const one = async (i: number): Promise<void> => {
    while (running) {
      const ws = new WebSocket(`${wsUrl}/v1/ingest`);
      ws.on('error', () => undefined);
      const closed = new Promise<void>((r) => ws.once('close', () => r()));
      const opened = await new Promise<boolean>((r) => {
        ws.once('open', () => r(true));
        ws.once('error', () => r(false));
      });
      if (!opened) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      connects++;
      const resend = JSON.stringify({ type: 'steps', seq: 1, items: [{ step: 0, scalars: { x: 1 } }] });
      if (i % 2 === 1) {
        const welcome = new Promise((r) => ws.once('message', r));
        ws.send(JSON.stringify({ type: 'hello', protocol: 1, token, run: { id: `nonreader-${i}`, project: 'fuzz', name: 'nonreader' } }));
        await welcome;
        ws.send(resend);
        await new Promise((r) => setTimeout(r, 20));
      }
      (ws as unknown as { _socket: { pause(): void } })._socket.pause();
      while (running && ws.readyState === ws.OPEN) {
        if (ws.bufferedAmount < 1 << 18) for (let k = 0; k < 20; k++) ws.send(i % 2 === 1 ? resend : 'x');
        await new Promise((r) => setTimeout(r, 10));
      }
      if (ws.readyState !== ws.OPEN && running) closedByServer++;
      ws.terminate();
      await closed;
    }
  };
  const all = Array.from({ length: n }, (_, i) => one(i));
  return {
    stop: async () => {
      running = false;
      await Promise.all(all);
      return { connects, closedByServer };
    },
  };
}
