import type { Alert, LiveClientMsg, LiveDiagnosis, LivePoints, LiveRun, LiveServerMsg } from '@gradwatch/shared';
import { throttle } from './throttle';
import { mark } from './perf';

export interface LiveEvents {
  points: LivePoints;
  run: LiveRun;
  alert: Alert;
  /** A run's verdict changed: its whole ranked list. */
  diagnosis: LiveDiagnosis;
  /** The socket (re)opened: live data may have been missed, so views refetch. */
  open: { reconnect: boolean };
  close: { code: number };
  error: { code: string; message: string };
}

type Handler<K extends keyof LiveEvents> = (m: LiveEvents[K]) => void;

/** One subscriber's interest in one run: null series means every series. */
interface Interest {
  run: string;
  series: ReadonlySet<string> | null;
}

export interface SocketLike {
  readyState: number;
  send(data: string): void;
  close(): void;
  onopen: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
}

export interface LiveOptions {
  url: () => string;
  token: () => string | null;
  create?: (url: string) => SocketLike;
  onUnauthorized?: () => void;
}

const OPEN = 1;

/** Points are handed to listeners in one burst at most this often (ms): one redraw per burst. */
export const POINTS_EVERY_MS = 100;

/**
 * The one live socket of the page. Views subscribe to what they show; the subscriptions of all
 * views are merged per run (a run's filter is the union of its subscribers' series, or none if
 * any of them wants everything), and re-sent after every reconnect.
 *
 * The server answers every auth, subscribe and unsubscribe with `ready` (or `error`), in order:
 * `whenSynced()` waits for those answers, so a view that subscribes, waits, and only then loads over
 * REST misses no point committed in between. Points frames of several runs arrive as separate
 * messages; they are handed on together, at most every POINTS_EVERY_MS, so a chart overlaying
 * twenty runs redraws once per burst rather than twenty times.
 */
export class LiveSocket {
  private ws: SocketLike | null = null;
  private handlers = new Map<keyof LiveEvents, Set<(m: never) => void>>();
  private interests = new Set<Interest>();
  /** What the server currently has, per run, as a comparable key. */
  private sent = new Map<string, string>();
  private flushQueued = false;
  private backoff = 500;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private opened = 0;
  private stopped = false;
  /** Messages sent on the current socket that the server has not answered yet. */
  private unanswered = 0;
  private waiters = new Set<() => void>();
  private points: LivePoints[] = [];
  private readonly deliverPoints = throttle(() => {
    const batch = this.points;
    this.points = [];
    for (const m of batch) this.emit('points', m);
  }, POINTS_EVERY_MS);

  constructor(private readonly opts: LiveOptions) {}

  /** True when the server holds every subscription made so far. */
  get synced(): boolean {
    return !!this.ws && this.ws.readyState === OPEN && !this.flushQueued && this.unanswered === 0;
  }

  /**
   * Resolves true once the server holds every subscription made so far, or false after
   * timeoutMs (no socket: the caller loads anyway and reloads when the socket opens).
   */
  whenSynced(timeoutMs = 3000): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(ok);
      };
      const wake = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.add(wake);
    });
  }

  private checkSynced(): void {
    if (!this.synced) return;
    if (this.waiters.size > 0) mark('gw:live:synced');
    for (const w of [...this.waiters]) w();
  }

  /** Listens for one kind of event; returns its own unsubscribe. */
  on<K extends keyof LiveEvents>(type: K, fn: Handler<K>): () => void {
    let set = this.handlers.get(type);
    if (!set) this.handlers.set(type, (set = new Set()));
    set.add(fn as (m: never) => void);
    return () => set.delete(fn as (m: never) => void);
  }

  /** Asks for live data of these runs ("*" gets run, alert and diagnosis events of every run). */
  subscribe(runs: readonly string[], series?: readonly string[]): () => void {
    const mine = runs.map((run) => ({ run, series: series ? new Set(series) : null }));
    for (const i of mine) this.interests.add(i);
    this.ensureOpen();
    this.queueFlush();
    return () => {
      for (const i of mine) this.interests.delete(i);
      this.queueFlush();
    };
  }

  /**
   * Opens the socket ahead of any subscription: a view's first subscribe then waits for one
   * answer, not for a connection too, and its REST load (which waits for that) starts sooner.
   */
  preconnect(): void {
    this.ensureOpen();
  }

  /** Reconnects at once (a new token, say). */
  reconnect(): void {
    this.stopped = false;
    this.ws?.close();
    this.ws = null;
    this.connect();
  }

  private emit<K extends keyof LiveEvents>(type: K, m: LiveEvents[K]): void {
    for (const fn of this.handlers.get(type) ?? []) (fn as Handler<K>)(m);
  }

  private ensureOpen(): void {
    if (!this.ws && !this.retry && !this.stopped) this.connect();
  }

  private connect(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    const create = this.opts.create ?? ((u: string) => new WebSocket(u) as unknown as SocketLike);
    const ws = create(this.opts.url());
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = 500;
      this.unanswered = 0;
      const token = this.opts.token();
      if (token) this.send({ type: 'auth', token });
      this.sent.clear();
      this.flush();
      mark('gw:live:open');
      this.emit('open', { reconnect: this.opened++ > 0 });
      this.checkSynced();
    };
    ws.onmessage = (ev) => this.onMessage(String(ev.data));
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      // Whatever was in flight is lost with the socket: the next open re-sends it all.
      this.unanswered = 0;
      this.emit('close', { code: ev.code });
      if (this.stopped) return;
      this.retry = setTimeout(() => {
        this.retry = null;
        this.connect();
      }, this.backoff);
      this.backoff = Math.min(this.backoff * 2, 10_000);
    };
  }

  private onMessage(text: string): void {
    let m: LiveServerMsg;
    try {
      m = JSON.parse(text) as LiveServerMsg;
    } catch {
      return;
    }
    if (m.type === 'points') {
      this.points.push(m);
      this.deliverPoints();
    } else if (m.type === 'run') this.emit('run', m);
    else if (m.type === 'alert') this.emit('alert', m.alert);
    else if (m.type === 'diagnosis') this.emit('diagnosis', m);
    else if (m.type === 'ready') this.answered();
    else if (m.type === 'error') {
      this.answered();
      if (m.code === 'unauthorized' || m.code === 'forbidden') {
        // Retrying with the same token is pointless: wait for a new one.
        this.stopped = true;
        this.opts.onUnauthorized?.();
      }
      this.emit('error', { code: m.code, message: m.message });
    }
  }

  private answered(): void {
    if (this.unanswered > 0) this.unanswered--;
    this.checkSynced();
  }

  private send(m: LiveClientMsg): void {
    if (this.ws && this.ws.readyState === OPEN) {
      this.ws.send(JSON.stringify(m));
      this.unanswered++;
    }
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    // Views mount and unmount in bursts: send one merged update after the burst.
    queueMicrotask(() => {
      this.flushQueued = false;
      this.flush();
      this.checkSynced();
    });
  }

  /** The merged filter of every run with at least one subscriber. */
  wanted(): Map<string, string[] | null> {
    const out = new Map<string, Set<string> | null>();
    for (const i of this.interests) {
      const cur = out.get(i.run);
      if (cur === null) continue;
      if (i.series === null) out.set(i.run, null);
      else out.set(i.run, new Set([...(cur ?? []), ...i.series]));
    }
    return new Map([...out].map(([r, s]) => [r, s === null ? null : [...s].sort()]));
  }

  private flush(): void {
    if (!this.ws || this.ws.readyState !== OPEN) return;
    const want = this.wanted();
    const gone = [...this.sent.keys()].filter((r) => !want.has(r));
    if (gone.length) this.send({ type: 'unsubscribe', runs: gone });
    for (const r of gone) this.sent.delete(r);
    const all: string[] = [];
    for (const [run, series] of want) {
      const key = series === null ? '*' : series.join('\n');
      if (this.sent.get(run) === key) continue;
      this.sent.set(run, key);
      if (series === null) all.push(run);
      else this.send({ type: 'subscribe', runs: [run], series });
    }
    if (all.length) this.send({ type: 'subscribe', runs: all });
  }
}
