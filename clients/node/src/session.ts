import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import type { Alert, ErrorMsg, Hello, Limits, RunInfo, ServerMsg, Welcome } from '@gradwatch/shared';
import { errorAction, toWireJson } from '@gradwatch/shared/wire';
import { Outbox, type Body } from './outbox.js';
import { GradwatchError, Refusals, stderrLog, type Log, type Rejected } from './report.js';

export interface SessionOptions {
  /**
   * ws://host:port (the /v1/ingest path is added when missing). Several URLs name servers that
   * share one database (GRADWATCH_DATABASE_URL): the client connects to the first and, each time
   * a connection fails or is lost, tries the next one in turn, so a job moves to a server that
   * is up. The run continues there from its committed lastSeq.
   */
  url: string | readonly string[];
  run: RunInfo;
  token?: string;
  rewindTo?: number;
  /** Messages sent but not yet acked. */
  window?: number;
  maxBackoffMs?: number;
  /** Where the client's few warnings go (a refusal, a stop command, a fatal error); stderr by default. */
  log?: Log;
  /**
   * `msgpack` (the default) offers MessagePack binary frames in hello and uses them when the
   * welcome accepts (NaN and ±Infinity as raw floats, less for the server to parse); `json` always
   * sends JSON text frames.
   */
  encoding?: 'msgpack' | 'json';
}

export interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * The protocol half of the client: the socket, hello/welcome, acks, and what each error code asks
 * (the shared table: `@gradwatch/shared/wire` ERROR_ACTIONS, docs/protocol.md). Every message is
 * kept until it is acked and re-sent after a reconnect past the server's lastSeq, so nothing acked
 * is lost and nothing is stored twice, whatever happens to the connection.
 */
export abstract class IngestSession extends EventEmitter<{
  alert: [Alert];
  command: [{ action: string; reason: string }];
  rejected: [Rejected];
  welcome: [{ lastSeq: number; limits: Limits }];
  error: [Error];
}> {
  private ws: WebSocket | null = null;
  protected readonly outbox = new Outbox();
  protected limits: Limits | null = null;
  /** Optional message kinds the last welcome offered (`hists`). */
  protected features: readonly string[] = [];
  /** How this connection sends sequenced messages: what the last welcome accepted. */
  encoding: 'json' | 'msgpack' = 'json';
  private closed = false;
  private backoff = 100;
  private retryBackoff = 100;
  private retryTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private ready = false;
  protected idleWaiters: Waiter[] = [];
  private connectWaiter: Waiter | null = null;
  private readonly log: Log;
  private readonly urls: readonly string[];
  /** Which of `urls` the current (or next) connection goes to. */
  private urlIndex = 0;
  protected readonly refusals: Refusals;
  readonly alerts: Alert[] = [];
  lastAckedSeq = 0;
  /** Messages the server acked, that is stored. */
  acked = 0;
  connects = 0;
  /** Back-offs taken after `retry`-action errors (database busy, full or read-only; a server fault). */
  retries = 0;
  /** The server sent `command stop` (a rule the project marked as stopping fired): stop training. */
  stopRequested = false;
  stopReason: string | null = null;
  /** The error that stopped the client for good (unauthorized, forbidden, protocol, ...). */
  fatal: GradwatchError | null = null;

  constructor(private readonly opts: SessionOptions) {
    super();
    this.log = opts.log ?? stderrLog;
    this.refusals = new Refusals(opts.run.id, this.log);
    const urls = typeof opts.url === 'string' ? [opts.url] : opts.url;
    if (urls.length === 0) throw new Error('IngestClient needs at least one server URL');
    this.urls = urls.map((u) => (u.includes('/v1/ingest') ? u : `${u.replace(/\/$/, '')}/v1/ingest`));
  }

  /** The ingest URL the current connection uses (or the next one will). */
  get serverUrl(): string {
    return this.urls[this.urlIndex] as string;
  }

  /**
   * Opens the socket and resolves on the first welcome. Rejects when the first attempt cannot
   * reach the server (the client keeps trying in the background until close()), and on a fatal
   * error such as `unauthorized`, after which the client stops.
   */
  connect(): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    return new Promise((resolve, reject) => {
      this.connectWaiter = { resolve, reject };
      this.open();
    });
  }

  private settleConnect(err?: Error): void {
    const w = this.connectWaiter;
    this.connectWaiter = null;
    if (w && err) w.reject(err);
    else w?.resolve();
  }

  private open(): void {
    this.reconnectTimer = null;
    const ws = new WebSocket(this.serverUrl);
    this.ws = ws;
    this.ready = false;
    ws.on('open', () => {
      this.connects++;
      const hello: Hello = { type: 'hello', protocol: 1, run: this.opts.run };
      if (this.opts.rewindTo !== undefined && this.connects === 1) hello.rewindTo = this.opts.rewindTo;
      if (this.opts.token !== undefined) hello.token = this.opts.token;
      if (this.opts.encoding !== 'json') hello.encodings = ['msgpack'];
      ws.send(toWireJson(hello));
    });
    ws.on('message', (data: Buffer) => this.onMessage(JSON.parse(data.toString('utf8')) as ServerMsg));
    ws.on('error', (err) => {
      if (!this.ready) this.settleConnect(err);
    });
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.ready = false;
      if (this.closed || this.fatal) return;
      // With several servers the next attempt goes to the next one: this one may be down.
      this.urlIndex = (this.urlIndex + 1) % this.urls.length;
      const wait = this.backoff;
      this.backoff = Math.min(this.backoff * 2, this.opts.maxBackoffMs ?? 5000);
      this.reconnectTimer = setTimeout(() => this.open(), wait);
    });
  }

  private onMessage(msg: ServerMsg): void {
    if (msg.type === 'welcome') this.onWelcome(msg);
    else if (msg.type === 'ack') {
      this.retryBackoff = 100;
      this.ackThrough(msg.seq);
      this.pump();
    } else if (msg.type === 'alert') {
      this.alerts.push(msg.alert);
      this.emit('alert', msg.alert);
    } else if (msg.type === 'command') {
      if (msg.action === 'stop' && !this.stopRequested) {
        this.stopRequested = true;
        this.stopReason = msg.reason;
        this.log(`the server asks run ${this.opts.run.id} to stop: ${msg.reason.replace(/\.$/, '')}. end() without a status reports it as stopped.`);
      }
      this.emit('command', { action: msg.action, reason: msg.reason });
    } else if (msg.type === 'error') this.onError(msg);
  }

  /**
   * Seqs belong to the run, not to this process: everything not stored is numbered after the
   * run's lastSeq (a new process resuming a run learns it here), split to the server's limits.
   */
  private onWelcome(msg: Welcome): void {
    this.backoff = 100;
    this.limits = msg.limits;
    this.features = msg.features ?? [];
    this.encoding = msg.encoding === 'msgpack' ? 'msgpack' : 'json';
    if (this.outbox.numbered) this.ackThrough(msg.lastSeq);
    this.outbox.reencode(this.encoding);
    for (const d of this.outbox.renumber(msg.lastSeq, msg.limits)) {
      this.emit('rejected', this.refusals.add('frame_too_large', d.reason, d.entry));
    }
    this.lastAckedSeq = Math.max(this.lastAckedSeq, msg.lastSeq);
    this.ready = true;
    this.emit('welcome', { lastSeq: msg.lastSeq, limits: msg.limits });
    this.settleConnect();
    this.checkIdle();
    this.pump();
  }

  private ackThrough(seq: number): void {
    this.acked += this.outbox.takeThrough(seq).length;
    if (seq > this.lastAckedSeq) this.lastAckedSeq = seq;
    this.checkIdle();
  }

  /** Steps queued and not yet in a message. */
  protected abstract batched(): number;

  protected checkIdle(): void {
    if (this.outbox.entries.length > 0 || this.batched() > 0) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f.resolve();
  }

  private onError({ code, message, seq, expected }: ErrorMsg): void {
    switch (errorAction(code)) {
      case 'fatal':
        return this.fail(new GradwatchError(code, message));
      case 'resend':
        return this.onGap(expected);
      case 'retry':
        return this.onRetry(seq);
      case 'reconnect':
        // The server closes (or will close) this socket; nothing acked is lost, the rest is re-sent.
        this.ws?.close();
        return;
      case 'rejected':
        return this.onRejected(code, message, seq);
    }
  }

  private onRejected(code: string, message: string, seq?: number): void {
    if (seq === undefined && !this.ready) {
      // A refused hello would be refused again.
      this.fail(new GradwatchError(code, message));
      return;
    }
    if (seq === undefined) {
      this.emit('rejected', this.refusals.add(code, message));
      return;
    }
    // Consumed: the server handles seqs in order, so everything before it is settled too.
    this.ackThrough(seq - 1);
    const [entry] = this.outbox.takeThrough(seq);
    if (seq > this.lastAckedSeq) this.lastAckedSeq = seq;
    this.emit('rejected', this.refusals.add(code, message, entry, seq));
    this.checkIdle();
    this.pump();
  }

  private onGap(expected?: number): void {
    const first = this.outbox.entries[0];
    if (expected === undefined || (first && expected < first.seq)) {
      // The server expects a message this client no longer holds: a new welcome renumbers the rest.
      this.log(`run ${this.opts.run.id}: the server expects seq ${expected ?? '?'}, which this client does not hold; reconnecting`);
      this.ws?.close();
      return;
    }
    const i = this.outbox.entries.findIndex((o) => o.seq >= expected);
    this.outbox.rewindTo(i < 0 ? this.outbox.entries.length : i);
    this.pump();
  }

  /**
   * Nothing was stored and the seq is not consumed: re-send from it after a back-off that doubles
   * while retries continue (one timer for a whole failed batch) and resets on the next ack.
   */
  private onRetry(seq?: number): void {
    if (!this.ready) {
      // The hello could not be stored: connect again after the back-off.
      this.ws?.close();
      return;
    }
    // Without a seq (rate_limited) any message in flight may have been dropped: re-send them all.
    this.outbox.rewindTo(seq === undefined ? 0 : this.outbox.indexOf(seq));
    if (this.retryTimer) return;
    this.retries++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.pump();
    }, this.retryBackoff);
    this.retryBackoff = Math.min(this.retryBackoff * 2, this.opts.maxBackoffMs ?? 5000);
  }

  private fail(err: GradwatchError): void {
    if (this.fatal) return;
    this.fatal = err;
    this.log(`run ${this.opts.run.id}: ${err.message}. The client stops: retrying cannot help.`);
    this.stopTimers();
    this.ws?.close();
    this.settleConnect(err);
    this.rejectWaiters(err);
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  private rejectWaiters(err: Error): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f.reject(err);
  }

  private pump(): void {
    const ws = this.ws;
    if (!ws || !this.ready || this.retryTimer || ws.readyState !== WebSocket.OPEN) return;
    const window = this.opts.window ?? 64;
    const ob = this.outbox;
    while (ob.cursor < ob.entries.length && ob.cursor < window) ws.send(Outbox.frame(ob.entries[ob.cursor++] as (typeof ob.entries)[number]));
  }

  protected push(body: Body): number {
    if (this.fatal) return 0;
    const { added, dropped } = this.outbox.add(body, this.limits);
    for (const d of dropped) this.emit('rejected', this.refusals.add('frame_too_large', d.reason, d.entry));
    this.pump();
    return added.at(-1)?.seq ?? 0;
  }

  /** Drops the connection without closing the client: it reconnects and re-sends. */
  dropConnection(): void {
    this.ws?.terminate();
  }

  private stopTimers(): void {
    for (const t of [this.retryTimer, this.reconnectTimer]) if (t) clearTimeout(t);
    this.retryTimer = this.reconnectTimer = null;
  }

  /** Stops for good: no reconnect; a pending connect() or flush() rejects. */
  close(): void {
    this.closed = true;
    this.stopTimers();
    this.ws?.close();
    const err = new Error(`the client was closed with ${this.outbox.entries.length + this.batched()} messages unacked`);
    this.settleConnect(err);
    this.rejectWaiters(err);
  }
}
