import type { WebSocket } from 'ws';
import { encodeNum, type Alert, type Diagnosis, type LiveRun, type LiveServerMsg, type Num } from '@gradwatch/shared';
import type { IngestListener, LiveBatch } from '../ingest/pending.js';

/**
 * Coalescing period: at most about twenty frames a second per socket. Points wait at most this
 * long for their frame, so it bounds what live adds to freshness (p99 under 100 ms from the
 * training step to the browser); a first point after a quiet spell goes out at once.
 */
export const FRAME_MS = 50;
/** Subscribing to "*" receives run and alert events of every run (no points). */
export const ALL_RUNS = '*';

class LiveClient {
  /** runUid → series filter (null: every series). */
  readonly subs = new Map<string, Set<string> | null>();
  pending = new Map<string, Map<string, Array<[number, Num]>>>();
  /**
   * runUid → where the filter's series sit in the names array seen last: consecutive steps of
   * one shape share theirs, so a step costs a look per wanted series, not per series it holds.
   */
  readonly picks = new Map<string, { names: readonly string[]; at: number[] }>();
  timer: NodeJS.Timeout | null = null;
  lastFlush = 0;
  constructor(readonly socket: WebSocket) {}
}

function picked(c: LiveClient, uid: string, filter: ReadonlySet<string>, names: readonly string[]): number[] {
  const seen = c.picks.get(uid);
  if (seen?.names === names) return seen.at;
  const at: number[] = [];
  for (let i = 0; i < names.length; i++) if (filter.has(names[i] as string)) at.push(i);
  c.picks.set(uid, { names, at });
  return at;
}

/** Fan-out of committed points, run changes and alerts to dashboard sockets. */
export class LiveHub implements IngestListener {
  private readonly clients = new Set<LiveClient>();
  private readonly byRun = new Map<string, Set<LiveClient>>();
  private readonly changedRuns = new Set<string>();
  private runTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly describeRun: (uid: string) => Promise<LiveRun | null>,
    private readonly maxBufferedBytes: number,
  ) {}

  attach(socket: WebSocket): LiveClient {
    const c = new LiveClient(socket);
    this.clients.add(c);
    return c;
  }

  detach(c: LiveClient): void {
    this.clients.delete(c);
    if (c.timer) clearTimeout(c.timer);
    for (const uid of c.subs.keys()) this.byRun.get(uid)?.delete(c);
  }

  subscribe(c: LiveClient, runs: string[], series: string[] | undefined): void {
    for (const uid of runs) {
      c.subs.set(uid, series ? new Set(series) : null);
      c.picks.delete(uid);
      let set = this.byRun.get(uid);
      if (!set) this.byRun.set(uid, (set = new Set()));
      set.add(c);
    }
  }

  unsubscribe(c: LiveClient, runs: string[]): void {
    for (const uid of runs) {
      c.subs.delete(uid);
      c.picks.delete(uid);
      c.pending.delete(uid);
      this.byRun.get(uid)?.delete(c);
    }
  }

  /**
   * The run is being deleted: its subscriptions end here, so a run later created with the same
   * id (perhaps in another project) is never streamed to them. Subscribers are told, and may
   * subscribe again, which checks access anew.
   */
  runDeleted(uid: string): void {
    this.changedRuns.delete(uid);
    const subscribers = this.byRun.get(uid);
    if (!subscribers) return;
    this.byRun.delete(uid);
    for (const c of subscribers) {
      c.subs.delete(uid);
      c.picks.delete(uid);
      c.pending.delete(uid);
      this.send(c, { type: 'error', code: 'not_found', runId: uid, message: `run ${uid} was deleted; its subscription has ended` });
    }
  }

  wants(uid: string): boolean {
    return (this.byRun.get(uid)?.size ?? 0) > 0;
  }

  points(uid: string, batch: readonly LiveBatch[]): void {
    for (const c of this.byRun.get(uid) ?? []) {
      const filter = c.subs.get(uid);
      let run = c.pending.get(uid);
      if (!run) c.pending.set(uid, (run = new Map()));
      for (const item of batch) {
        const { names, values } = item;
        const at = filter ? picked(c, uid, filter, names) : null;
        const n = at ? at.length : names.length;
        for (let k = 0; k < n; k++) {
          const i = at ? (at[k] as number) : k;
          const name = names[i] as string;
          let pts = run.get(name);
          if (!pts) run.set(name, (pts = []));
          pts.push([item.step, encodeNum(values[i] as number)]);
        }
      }
      this.schedule(c);
    }
  }

  private schedule(c: LiveClient): void {
    if (c.timer) return;
    const wait = Math.max(0, c.lastFlush + FRAME_MS - Date.now());
    c.timer = setTimeout(() => this.flush(c), wait);
  }

  private flush(c: LiveClient): void {
    c.timer = null;
    c.lastFlush = Date.now();
    const pending = c.pending;
    c.pending = new Map();
    for (const [runId, series] of pending) {
      if (series.size === 0) continue;
      this.send(c, { type: 'points', runId, series: Object.fromEntries(series) });
    }
  }

  /** A socket whose buffer passes the limit is not keeping up: drop it, never wait for it. */
  private send(c: LiveClient, msg: LiveServerMsg): void {
    const s = c.socket;
    if (s.readyState !== s.OPEN) return;
    if (s.bufferedAmount > this.maxBufferedBytes) {
      s.send(JSON.stringify({ type: 'error', code: 'slow_consumer', message: 'this socket fell behind the live stream and was dropped; reconnect' }));
      s.close(1013, 'slow consumer');
      this.detach(c);
      return;
    }
    s.send(JSON.stringify(msg));
  }

  private listeners(uid: string): Set<LiveClient> {
    return new Set([...(this.byRun.get(uid) ?? []), ...(this.byRun.get(ALL_RUNS) ?? [])]);
  }

  diagnosis(runUid: string, diagnoses: readonly Diagnosis[]): void {
    for (const c of this.listeners(runUid)) this.send(c, { type: 'diagnosis', runId: runUid, diagnoses: [...diagnoses] });
  }

  alert(alert: Alert): void {
    for (const c of this.listeners(alert.runId)) this.send(c, { type: 'alert', alert });
  }

  runChanged(uid: string): void {
    if (!this.wants(uid) && !this.wants(ALL_RUNS)) return;
    this.changedRuns.add(uid);
    this.runTimer ??= setTimeout(() => void this.sendRunChanges(), FRAME_MS);
  }

  private async sendRunChanges(): Promise<void> {
    this.runTimer = null;
    const uids = [...this.changedRuns];
    this.changedRuns.clear();
    for (const u of uids) {
      // A run frame is a nicety: when the database cannot be read now, the next change sends it.
      const msg = await this.describeRun(u).catch(() => null);
      if (msg) for (const c of this.listeners(u)) this.send(c, msg);
    }
  }

  close(): void {
    if (this.runTimer) clearTimeout(this.runTimer);
    for (const c of this.clients) {
      if (c.timer) clearTimeout(c.timer);
      c.socket.close(1001, 'server shutting down');
    }
    this.clients.clear();
    this.byRun.clear();
  }
}

export type { LiveClient };
