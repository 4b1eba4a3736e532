import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import type {
  Alert, EndStatus, EvalMsg, Hello, HistMsg, Limits, ModelMsg, RunInfo, ServerMsg, StepItem,
} from '@gradwatch/shared';

export interface IngestClientOptions {
  /** ws://host:port (the /v1/ingest path is added when missing). */
  url: string;
  run: RunInfo;
  token?: string;
  rewindTo?: number;
  /** Steps per `steps` message; capped by the server's limits. */
  batchSize?: number;
  /** How long a partial batch waits before it is sent. */
  flushMs?: number;
  /** Messages sent but not yet acked. */
  window?: number;
  maxBackoffMs?: number;
}

export interface Rejected {
  seq: number;
  code: string;
  message: string;
}

type Body =
  | Omit<ModelMsg, 'seq'>
  | { type: 'steps'; items: StepItem[] }
  | Omit<EvalMsg, 'seq'>
  | Omit<HistMsg, 'seq'>
  | { type: 'end'; status: EndStatus };

interface Outgoing {
  seq: number;
  body: Body;
}

/**
 * Streams a run over the ingest socket: sequences every message, keeps it until it is acked,
 * and after a reconnect re-sends everything past the server's lastSeq. Nothing acked is lost and
 * nothing is stored twice, whatever happens to the connection.
 */
export class IngestClient extends EventEmitter<{
  alert: [Alert];
  command: [{ action: string; reason: string }];
  rejected: [Rejected];
  welcome: [{ lastSeq: number; limits: Limits }];
  error: [Error];
}> {
  private ws: WebSocket | null = null;
  private seq = 0;
  private readonly outbox: Outgoing[] = [];
  /** Index into outbox of the next message to send on this connection. */
  private cursor = 0;
  private batch: StepItem[] = [];
  private batchTimer: NodeJS.Timeout | null = null;
  private limits: Limits | null = null;
  private closed = false;
  private backoff = 100;
  private retryBackoff = 100;
  private retryTimer: NodeJS.Timeout | null = null;
  private ready = false;
  private numbered = false;
  private idleWaiters: Array<() => void> = [];
  readonly rejected: Rejected[] = [];
  readonly alerts: Alert[] = [];
  lastAckedSeq = 0;
  connects = 0;
  /** Back-offs taken after `retry` errors (database busy, full or read-only). */
  retries = 0;

  constructor(private readonly opts: IngestClientOptions) {
    super();
  }

  private get url(): string {
    return this.opts.url.includes('/v1/ingest') ? this.opts.url : `${this.opts.url.replace(/\/$/, '')}/v1/ingest`;
  }

  /** Opens the socket and resolves on the first welcome. */
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      this.open(() => {
        if (!settled) {
          settled = true;
          resolve();
        }
      }, (err) => {
        if (!settled) {
          settled = true;
          reject(err);
        }
      });
    });
  }

  private open(onWelcome: () => void, onFail: (e: Error) => void): void {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    this.ready = false;
    ws.on('open', () => {
      this.connects++;
      const hello: Hello = { type: 'hello', protocol: 1, run: this.opts.run };
      if (this.opts.rewindTo !== undefined && this.connects === 1) hello.rewindTo = this.opts.rewindTo;
      if (this.opts.token !== undefined) hello.token = this.opts.token;
      ws.send(JSON.stringify(hello));
    });
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString('utf8')) as ServerMsg;
      if (msg.type === 'welcome') {
        if (!this.numbered) this.renumber(msg.lastSeq);
        this.backoff = 100;
        this.limits = msg.limits;
        this.onAcked(msg.lastSeq);
        this.cursor = 0;
        this.ready = true;
        this.emit('welcome', { lastSeq: msg.lastSeq, limits: msg.limits });
        onWelcome();
        this.pump();
      } else if (msg.type === 'ack') {
        this.retryBackoff = 100;
        this.onAcked(msg.seq);
        this.pump();
      } else if (msg.type === 'alert') {
        this.alerts.push(msg.alert);
        this.emit('alert', msg.alert);
      } else if (msg.type === 'command') {
        this.emit('command', { action: msg.action, reason: msg.reason });
      } else if (msg.type === 'error') {
        this.onError(msg.code, msg.message, msg.seq, msg.expected);
      }
    });
    ws.on('error', (err) => {
      if (!this.ready) onFail(err);
    });
    ws.on('close', () => {
      this.ready = false;
      if (this.closed) return;
      const wait = this.backoff;
      this.backoff = Math.min(this.backoff * 2, this.opts.maxBackoffMs ?? 5000);
      setTimeout(() => {
        if (!this.closed) this.open(() => undefined, () => undefined);
      }, wait);
    });
  }

  /**
   * Seqs belong to the run, not to this process: a process resuming a run learns the run's
   * lastSeq from its first welcome and numbers everything it queued so far after it.
   */
  private renumber(lastSeq: number): void {
    this.numbered = true;
    this.outbox.forEach((o, i) => (o.seq = lastSeq + 1 + i));
    this.seq = lastSeq + this.outbox.length;
  }

  private onAcked(seq: number): void {
    if (seq > this.lastAckedSeq) this.lastAckedSeq = seq;
    let n = 0;
    while (n < this.outbox.length && (this.outbox[n] as Outgoing).seq <= seq) n++;
    if (n > 0) {
      this.outbox.splice(0, n);
      this.cursor = Math.max(0, this.cursor - n);
    }
    if (this.outbox.length === 0 && this.batch.length === 0) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }

  private onError(code: string, message: string, seq?: number, expected?: number): void {
    if (code === 'gap' && expected !== undefined) {
      // The server missed something: rewind the send cursor to what it expects.
      const i = this.outbox.findIndex((o) => o.seq >= expected);
      this.cursor = i < 0 ? this.outbox.length : Math.min(this.cursor, i);
      this.pump();
      return;
    }
    if (code === 'retry' && seq === undefined) {
      // hello could not be stored (database busy or full): reconnect after the back-off.
      this.ws?.close();
      return;
    }
    if (code === 'retry' && seq !== undefined) {
      // Database busy, full or read-only: re-send from this seq after a back-off that doubles
      // while retries continue (one timer for a whole failed batch) and resets on the next ack.
      const i = this.outbox.findIndex((o) => o.seq === seq);
      if (i >= 0) this.cursor = Math.min(this.cursor, i);
      if (!this.retryTimer) {
        this.retries++;
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.pump();
        }, this.retryBackoff);
        this.retryBackoff = Math.min(this.retryBackoff * 2, this.opts.maxBackoffMs ?? 5000);
      }
      return;
    }
    if (seq !== undefined) {
      // Rejected for its content: the server consumed the seq; it will never be stored.
      const r = { seq, code, message };
      this.rejected.push(r);
      this.emit('rejected', r);
      this.onAcked(seq);
      this.pump();
      return;
    }
    if (this.listenerCount('error') > 0) this.emit('error', new Error(`${code}: ${message}`));
  }

  private pump(): void {
    const ws = this.ws;
    if (!ws || !this.ready || this.retryTimer || ws.readyState !== WebSocket.OPEN) return;
    const window = this.opts.window ?? 64;
    while (this.cursor < this.outbox.length && this.cursor < window) {
      const o = this.outbox[this.cursor] as Outgoing;
      ws.send(JSON.stringify({ ...o.body, seq: o.seq }));
      this.cursor++;
    }
  }

  private push(body: Body): number {
    const seq = ++this.seq;
    this.outbox.push({ seq, body });
    this.pump();
    return seq;
  }

  private batchLimit(): number {
    const mine = this.opts.batchSize ?? 100;
    return this.limits ? Math.min(mine, this.limits.maxItemsPerMessage) : mine;
  }

  model(m: Omit<ModelMsg, 'seq' | 'type'>): number {
    this.flushBatch();
    return this.push({ type: 'model', ...m });
  }

  step(item: StepItem): void {
    this.batch.push(item);
    if (this.batch.length >= this.batchLimit()) this.flushBatch();
    else this.batchTimer ??= setTimeout(() => this.flushBatch(), this.opts.flushMs ?? 50);
  }

  eval(e: Omit<EvalMsg, 'seq' | 'type'>): number {
    this.flushBatch();
    return this.push({ type: 'eval', ...e });
  }

  hist(h: Omit<HistMsg, 'seq' | 'type'>): number {
    this.flushBatch();
    return this.push({ type: 'hist', ...h });
  }

  flushBatch(): void {
    if (this.batchTimer) {
      clearTimeout(this.batchTimer);
      this.batchTimer = null;
    }
    if (this.batch.length === 0) return;
    const items = this.batch;
    this.batch = [];
    this.push({ type: 'steps', items });
  }

  /** Resolves once every message so far is acked (or rejected), or rejects after timeoutMs. */
  flush(timeoutMs = 30_000): Promise<void> {
    this.flushBatch();
    if (this.outbox.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.outbox.length} messages still unacked after ${timeoutMs} ms`)), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  async end(status: EndStatus = 'completed', timeoutMs?: number): Promise<void> {
    this.flushBatch();
    this.push({ type: 'end', status });
    await this.flush(timeoutMs);
  }

  /** Pending messages (sent or not) that the server has not acked. */
  get unacked(): number {
    return this.outbox.length + this.batch.length;
  }

  /** Drops the connection without closing the client: it reconnects and re-sends. */
  dropConnection(): void {
    this.ws?.terminate();
  }

  close(): void {
    this.closed = true;
    if (this.batchTimer) clearTimeout(this.batchTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.ws?.close();
  }
}
