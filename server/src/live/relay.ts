import type { Alert, Diagnosis } from '@gradwatch/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { IngestListener, LiveBatch } from '../ingest/pending.js';
import type { Notices } from '../storage/backend.js';
import type { LiveHub } from './hub.js';

/** What one server tells the others after a commit: which run changed how; the data stays in the tables. */
type Notice =
  | { s: string; k: 'points'; r: string; lo: number; hi: number }
  | { s: string; k: 'alert'; r: string; id: number }
  | { s: string; k: 'diagnosis' | 'run' | 'deleted'; r: string };

/** How a server reads what another server's notice points at. */
export interface RelayReads {
  steps(uid: string, lo: number, hi: number): Promise<LiveBatch[]>;
  alert(id: number): Promise<Alert | null>;
  diagnoses(uid: string): Promise<Diagnosis[]>;
}

/** Notices of points are read together: one read per run per frame, however many commits. */
const READ_EVERY_MS = 20;
/** A notice of more steps than this (a server that fell behind) streams only the newest. */
const MAX_READ_STEPS = 2_000;

/**
 * The live hub across servers sharing one database: what ingest commits here goes to this
 * server's subscribers at once and, as a small notice, to the other servers, which read the
 * data from the tables for their own subscribers.
 */
export class LiveRelay implements IngestListener {
  private outbox = new Map<string, Notice>();
  private flushing = false;
  private readonly ranges = new Map<string, { lo: number; hi: number }>();
  private readTimer: NodeJS.Timeout | null = null;
  private stopListening: (() => Promise<void>) | null = null;
  /** Publishes and reads still running: stop() waits for them, as they use the database pool. */
  private readonly inflight = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly hub: LiveHub,
    private readonly notices: Notices,
    private readonly serverId: string,
    private readonly reads: RelayReads,
    private readonly log: FastifyBaseLogger,
  ) {}

  async start(): Promise<void> {
    this.stopListening = await this.notices.listen((payload) => this.onNotice(payload));
  }

  /**
   * On shutdown, after ingest's last commit: its notices still go out, then nothing more is sent
   * or read, so no query runs on the pool once the database plugin closes it.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.readTimer) clearTimeout(this.readTimer);
    this.readTimer = null;
    this.ranges.clear();
    await this.stopListening?.();
    this.stopListening = null;
    this.publish();
    await Promise.all(this.inflight);
  }

  /** Every commit may have a subscriber on another server: live batches are always built. */
  wants(): boolean {
    return true;
  }

  points(uid: string, batch: readonly LiveBatch[]): void {
    if (this.hub.wants(uid)) this.hub.points(uid, batch);
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const b of batch) {
      lo = Math.min(lo, b.step);
      hi = Math.max(hi, b.step);
    }
    const key = `points:${uid}`;
    const prev = this.outbox.get(key);
    if (prev?.k === 'points') {
      prev.lo = Math.min(prev.lo, lo);
      prev.hi = Math.max(prev.hi, hi);
    } else if (lo <= hi) this.send(key, { s: this.serverId, k: 'points', r: uid, lo, hi });
  }

  alert(alert: Alert): void {
    this.hub.alert(alert);
    this.send(`alert:${alert.id}`, { s: this.serverId, k: 'alert', r: alert.runId, id: alert.id });
  }

  diagnosis(uid: string, diagnoses: readonly Diagnosis[]): void {
    this.hub.diagnosis(uid, diagnoses);
    this.send(`diagnosis:${uid}`, { s: this.serverId, k: 'diagnosis', r: uid });
  }

  runChanged(uid: string): void {
    this.hub.runChanged(uid);
    this.send(`run:${uid}`, { s: this.serverId, k: 'run', r: uid });
  }

  runDeleted(uid: string): void {
    this.hub.runDeleted(uid);
    this.send(`deleted:${uid}`, { s: this.serverId, k: 'deleted', r: uid });
  }

  /** Notices of one turn of the event loop leave together, in one round trip. */
  private send(key: string, n: Notice): void {
    if (this.stopped) return;
    this.outbox.set(key, n);
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => this.publish());
  }

  private publish(): void {
    this.flushing = false;
    if (this.outbox.size === 0) return;
    const out = [...this.outbox.values()].map((x) => JSON.stringify(x));
    this.outbox = new Map();
    // Live is a view of stored data: a notice lost to a dropped connection loses nothing.
    this.track(this.notices.publish(out).catch((err: unknown) => this.log.warn({ err }, 'live: notices to other servers were not sent')));
  }

  private track(p: Promise<void>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private onNotice(payload: string): void {
    if (this.stopped) return;
    let n: Notice;
    try {
      n = JSON.parse(payload) as Notice;
    } catch {
      return;
    }
    if (n.s === this.serverId) return;
    switch (n.k) {
      case 'points':
        return this.queueRead(n.r, n.lo, n.hi);
      case 'alert':
        return this.track(this.reads.alert(n.id).then((a) => void (a && this.hub.alert(a)), (err: unknown) => this.readFailed(err)));
      case 'diagnosis':
        return this.track(this.reads.diagnoses(n.r).then((d) => this.hub.diagnosis(n.r, d), (err: unknown) => this.readFailed(err)));
      case 'run':
        return this.hub.runChanged(n.r);
      case 'deleted':
        return this.hub.runDeleted(n.r);
    }
  }

  private queueRead(uid: string, lo: number, hi: number): void {
    if (!this.hub.wants(uid)) return;
    const r = this.ranges.get(uid);
    this.ranges.set(uid, r ? { lo: Math.min(r.lo, lo), hi: Math.max(r.hi, hi) } : { lo, hi });
    this.readTimer ??= setTimeout(() => this.track(this.readRanges()), READ_EVERY_MS);
  }

  private async readRanges(): Promise<void> {
    this.readTimer = null;
    const ranges = [...this.ranges];
    this.ranges.clear();
    for (const [uid, { lo, hi }] of ranges) {
      try {
        const batch = await this.reads.steps(uid, Math.max(lo, hi - MAX_READ_STEPS + 1), hi);
        if (batch.length > 0 && this.hub.wants(uid)) this.hub.points(uid, batch);
      } catch (err) {
        this.readFailed(err);
      }
    }
  }

  private readFailed(err: unknown): void {
    this.log.warn({ err }, 'live: data another server committed could not be read');
  }
}
