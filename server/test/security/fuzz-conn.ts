/** The fuzz test's sockets: one reply per frame sent, and what a clear error looks like. */
import WebSocket from 'ws';
import { ERROR_CODES } from '@gradwatch/shared';

const CODES = new Set<string>(ERROR_CODES);

export interface Reply {
  type: string;
  code?: string;
  message?: string;
  seq?: number;
  lastSeq?: number;
  runId?: string;
}

/** A socket answering one message at a time: every frame sent gets exactly one reply. */
export class Conn {
  private queue: Reply[] = [];
  private waiter: ((r: Reply | { type: 'closed'; code: number }) => void) | null = null;
  closeCode: number | null = null;
  lastError: Reply | null = null;
  private constructor(readonly ws: WebSocket, private readonly replyTypes: Set<string>) {
    ws.on('message', (d: Buffer) => {
      const m = JSON.parse(d.toString('utf8')) as Reply;
      if (!this.replyTypes.has(m.type)) return; // alerts, points, run events: not answers
      if (m.type === 'error' && (m.code === 'replaced' || m.code === 'shutdown')) return;
      if (m.type === 'error') this.lastError = m;
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w(m);
      } else this.queue.push(m);
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      const w = this.waiter;
      this.waiter = null;
      w?.({ type: 'closed', code });
    });
    ws.on('error', () => undefined);
  }
  static open(url: string, replyTypes: string[]): Promise<Conn> {
    const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 });
    return new Promise((res, rej) => {
      ws.once('open', () => res(new Conn(ws, new Set(replyTypes))));
      ws.once('error', rej);
    });
  }
  /** The next reply; a close counts as one. Times out as a failure: every message must be answered. */
  next(timeoutMs = 10_000): Promise<Reply | { type: 'closed'; code: number }> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    if (this.closeCode !== null) return Promise.resolve({ type: 'closed', code: this.closeCode });
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error('no answer within 10 s')), timeoutMs);
      this.waiter = (r) => {
        clearTimeout(t);
        res(r);
      };
    });
  }
  send(data: string | Uint8Array): void {
    this.ws.send(data, { binary: typeof data !== 'string' });
  }
  /** Unanswered frames must not exist; extra answers (a queue left over) are a failure too. */
  get pending(): number {
    return this.queue.length;
  }
  close(): void {
    this.ws.close();
  }
}

export function checkError(r: Reply, where: string): void {
  if (!CODES.has(String(r.code))) throw new Error(`${where}: unknown error code ${JSON.stringify(r)}`);
  if (typeof r.message !== 'string' || r.message.length < 5) throw new Error(`${where}: unclear error message ${JSON.stringify(r)}`);
}
