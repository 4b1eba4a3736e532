import { FEATURES, PROTOCOL_VERSION, type Alert, type Diagnosis, type ErrorCode, type Hello, type Limits, type Welcome } from '@gradwatch/shared';
import type { RunRef } from '../alerts/alert-ledger.js';
import type { Config } from '../config.js';
import { RunOfOtherProject } from '../runs/run-records.js';
import { BatchCommitter, type BatchDeps } from './batch-commit.js';
import { IdleRuns, type Release } from './idle-runs.js';
import { MessageWriter } from './message-writer.js';
import { Rejection, type InMsg, type Pending } from './pending.js';
import type { Peer, RunSession } from './run-session.js';

type HelloResult = { session: RunSession; welcome: Welcome; alerts: Alert[]; diagnoses?: Diagnosis[] };

/** Messages per transaction: enough to amortize the fsync, small enough to keep latency low. */
const MAX_BATCH = 32;

export interface IngestDeps extends BatchDeps {
  /** The top verdict of a run changed (inside the transaction). */
  onVerdict?: (ref: RunRef, top: Diagnosis | null) => Promise<void>;
  limits: Config['limits'];
  /** How long a run whose job went away, and that has not ended, keeps its memory. */
  idleReleaseMs: number;
}

/**
 * The ingest path: seq bookkeeping per run, validation that needs run state, and group commit.
 * Messages from every connection that arrive within one turn of the event loop are written in a
 * single transaction (BatchCommitter), where one sender's fault never fails another's messages;
 * acks go out only after the transaction commits.
 */
export class IngestService {
  private queue: Pending[] = [];
  private scheduled = false;
  /** The batch being committed: one at a time, in arrival order. */
  private committing: Promise<void> | null = null;
  /** The messages of the batch being committed. */
  private inFlight: Pending[] = [];
  /** Runs with a hello under way (uid: how many): never released meanwhile. */
  private readonly hellos = new Map<string, number>();
  private readonly idle: IdleRuns;
  readonly limits: Limits;
  private readonly writer: MessageWriter;
  private readonly committer: BatchCommitter;

  constructor(private readonly d: IngestDeps) {
    this.writer = new MessageWriter(d.records, d.points, d.ledger, d.limits, d.listener, d.onVerdict);
    this.committer = new BatchCommitter(d, this.writer);
    this.idle = new IdleRuns((s, idleMs) => this.release(s, idleMs), d.idleReleaseMs);
    const l = d.limits;
    this.limits = {
      maxFrameBytes: l.maxFrameBytes,
      maxLayers: l.maxLayers,
      maxSeriesPerRun: l.maxSeriesPerRun,
      maxItemsPerMessage: l.maxItemsPerMessage,
      maxMessagesPerSecond: l.maxMessagesPerSecond,
      maxStringLength: l.maxStringLength,
    };
  }

  /** Whether a failure of the store is worth a retry by the job (busy, full, unreachable). */
  isTransient(e: unknown): boolean {
    return this.d.store.isTransient(e);
  }

  /** Uids of runs with a connected training job, for live/stale status. */
  connectedRuns(): Set<string> {
    return this.d.sessions.connected();
  }

  /** Commits what is queued, then forgets the run and disconnects its job (the run is being deleted). */
  async evict(uid: string): Promise<void> {
    await this.flush();
    const s = this.d.sessions.evict(uid);
    if (!s) return;
    s.owner?.send({ type: 'error', code: 'not_found', message: 'this run was deleted' });
    s.owner?.close(1008, 'run deleted');
    this.d.ledger.forget(s.ref.id);
    this.d.points.forget(s.ref.id);
  }

  async hello(peer: Peer, msg: Hello): Promise<HelloResult> {
    const uid = msg.run.id;
    this.hellos.set(uid, (this.hellos.get(uid) ?? 0) + 1);
    try {
      return await this.welcome(peer, msg);
    } finally {
      const n = (this.hellos.get(uid) ?? 1) - 1;
      if (n > 0) this.hellos.set(uid, n);
      else this.hellos.delete(uid);
      // A hello that failed after its run was loaded leaves it without a job (the clock of a run
      // already waiting goes on: failed hellos do not keep it in memory).
      const s = this.d.sessions.get(uid);
      if (s && s.owner === null && !this.idle.has(s)) this.idle.left(s);
    }
  }

  private async welcome(peer: Peer, msg: Hello): Promise<HelloResult> {
    if (msg.protocol !== PROTOCOL_VERSION) {
      throw new Rejection('protocol', `protocol ${msg.protocol} is not supported; this server speaks ${PROTOCOL_VERSION}`);
    }
    // Anything queued for this run must land before a rewind or a takeover.
    await this.flush();
    const now = new Date().toISOString();
    try {
      await this.d.store.transact(() => this.d.records.register(msg.run, now));
    } catch (e) {
      if (e instanceof RunOfOtherProject) throw new Rejection('forbidden', e.message);
      throw e;
    }
    const session = await this.d.sessions.claim(msg.run.id, (old) => this.replaced(old, peer));
    if (!session) throw new Error(`run ${msg.run.id} missing after hello`);
    if (msg.rewindTo !== undefined) await this.rewind(session, msg.rewindTo, now);
    const heldBefore = session.owner === peer;
    const prev = session.attach(peer);
    if (prev) {
      prev.send({ type: 'error', code: 'replaced', message: 'another connection took over this run' });
      prev.close(1000, 'replaced');
    }
    // Static rules judge the configuration at once; their alerts and verdict go out with the welcome.
    const verdict: Pending = { peer, session, msg: { type: 'rejected', seq: session.lastSeq } };
    const changes = session.hello(msg.run);
    try {
      if (changes.length) {
        await this.d.store.transact(async () => {
          await this.writer.raise(verdict, changes, now);
          // Nothing else may come to write it: a job can die right after its hello.
          await this.d.ledger.flushRun(session.ref.id, now);
        });
      }
    } catch (e) {
      // A new connection never learns it holds the run, so it would never let go of it (one
      // saying hello again keeps what it held).
      if (!heldBefore) session.detach(peer);
      // Rolled back: the alerts and the verdict are read or written afresh next time.
      this.d.ledger.forget(session.ref.id);
      session.forgetDiagnoses();
      throw e;
    }
    this.d.listener.runChanged(session.uid);
    for (const a of verdict.alerts ?? []) this.d.listener.alert(a);
    if (verdict.diagnoses) this.d.listener.diagnosis(session.uid, verdict.diagnoses);
    const welcome: Welcome = { type: 'welcome', protocol: PROTOCOL_VERSION, runId: session.uid, lastSeq: session.lastSeq, limits: this.limits, features: [...FEATURES] };
    if (session.lastStep !== null) welcome.lastStep = session.lastStep;
    return { session, welcome, alerts: verdict.alerts ?? [], ...(verdict.diagnoses ? { diagnoses: verdict.diagnoses } : {}) };
  }

  private async rewind(s: RunSession, step: number, now: string): Promise<void> {
    await this.d.store.transact(async () => {
      await this.d.points.rewind(s.ref.id, step);
      const before = step > 0 ? step - 1 : null;
      const kept = s.lastStep === null ? null : Math.min(s.lastStep, before ?? -1);
      await this.d.records.rewound(s.ref.id, step, kept !== null && kept >= 0 ? kept : null, s.lastStep, now);
    });
    await this.d.sessions.refresh(s);
  }

  /** A run this server held is claimed anew: its old connection, unless it is the one saying hello again, is told. */
  private replaced(old: RunSession, by: Peer): void {
    this.d.ledger.forget(old.ref.id);
    this.d.points.forget(old.ref.id);
    if (old.owner === by) return;
    old.owner?.send({ type: 'error', code: 'replaced', message: 'another connection took over this run' });
    old.owner?.close(1000, 'replaced');
  }

  detach(peer: Peer, s: RunSession | null): void {
    if (!s?.detach(peer)) return;
    this.d.listener.runChanged(s.uid);
    this.idle.left(s);
  }

  /** Runs held in memory: those being written, and those whose job left lately. */
  heldRuns(): number {
    return this.d.sessions.size;
  }

  /**
   * Drops the memory of a run no job holds, once nothing of it is on its way to the store: at
   * once when it has ended (its state is final: the end resolved its alerts and stored its
   * verdict), else after idleReleaseMs, so a job that comes back sooner finds its rule windows
   * and open alerts as it left them. A later hello restores it from the store, as after a
   * restart: its verdict recalls the alerts so far, and its end resolves what is still open.
   */
  private release(s: RunSession, idleMs: number): Release {
    if (s.owner !== null || this.d.sessions.get(s.uid) !== s || this.hellos.has(s.uid)) return 'kept';
    // Its end may be among them.
    if (this.queue.some((p) => p.session === s) || this.inFlight.some((p) => p.session === s)) return 'busy';
    if (!s.ended && idleMs < this.d.idleReleaseMs) return 'waiting';
    // Alert progress not written yet must not be dropped (a hello writes its own, a batch its).
    if (this.d.ledger.dirty(s.ref.id)) return 'busy';
    this.d.sessions.evict(s.uid);
    this.d.ledger.forget(s.ref.id);
    this.d.points.forget(s.ref.id);
    return 'released';
  }

  /** Stops the release timers (at shutdown, after the last flush). */
  close(): void {
    this.idle.close();
  }

  /** The seq rules: true when seq is the next to store; re-sends and gaps are answered here. */
  private next(peer: Peer, s: RunSession, seq: number): boolean {
    const a = s.admit(seq);
    switch (a.kind) {
      case 'next':
        return true;
      case 'stored':
        peer.send({ type: 'ack', seq });
        return false;
      case 'pending':
        this.enqueue({ peer, session: s, msg: { type: 'resend', seq } });
        return false;
      case 'gap':
        peer.send({ type: 'error', code: 'gap', seq, expected: a.expected, message: `expected seq ${a.expected}, got ${seq}` });
        return false;
    }
  }

  submit(peer: Peer, s: RunSession, msg: InMsg): void {
    if (this.next(peer, s, msg.seq)) this.enqueue({ peer, session: s, msg });
  }

  /** A message whose content failed validation: nothing is stored, but its seq is consumed. */
  reject(peer: Peer, s: RunSession, seq: number, code: ErrorCode, message: string): void {
    if (this.next(peer, s, seq)) this.enqueue({ peer, session: s, msg: { type: 'rejected', seq }, error: new Rejection(code, message) });
  }

  private enqueue(p: Pending): void {
    this.queue.push(p);
    this.schedule();
  }

  /**
   * Group commit: what arrived during one turn of the event loop is written in one transaction.
   * A transaction is capped at MAX_BATCH messages so it never holds the loop for long; between
   * batches the loop reads sockets and sends live frames.
   */
  private schedule(): void {
    if (this.scheduled || this.committing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  /** Commits batch after batch until the queue is empty; one runs at a time. */
  private drain(): Promise<void> {
    if (this.committing) return this.committing;
    // Nothing queued: nothing to wait for (and no promise left behind that would never clear).
    if (this.queue.length === 0) return Promise.resolve();
    this.committing = this.commitAll();
    return this.committing;
  }

  private async commitAll(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        this.inFlight = batch;
        await this.committer.commit(batch);
      }
    } finally {
      this.inFlight = [];
      this.committing = null;
    }
  }

  /** Commits everything queued now (before a hello, a delete, or shutdown). */
  async flush(): Promise<void> {
    while (this.committing || this.queue.length > 0) await this.drain();
  }
}
