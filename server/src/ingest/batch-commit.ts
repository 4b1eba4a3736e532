import { LeaseLost } from '../runs/run-records.js';
import { announceCommitted, retryError } from './batch-outcome.js';
import type { FastifyBaseLogger } from 'fastify';
import type { AlertLedger } from '../alerts/alert-ledger.js';
import type { PointStore } from '../points/point-store.js';
import type { RunRecords } from '../runs/run-records.js';
import type { Backend } from '../storage/backend.js';
import type { RunSessions } from './run-sessions.js';
import type { MessageWriter } from './message-writer.js';
import { Rejection, type IngestListener, type Pending } from './pending.js';
import type { RunSession, SessionMark } from './run-session.js';

export interface BatchDeps {
  /** transact(Batch), inTransaction (false once the database rolled the whole transaction back by itself), isTransient. */
  store: Pick<Backend, 'transact' | 'transactBatch' | 'inTransaction' | 'isTransient'>;
  records: RunRecords;
  points: PointStore;
  ledger: AlertLedger;
  sessions: RunSessions;
  listener: IngestListener;
  log: FastifyBaseLogger;
}

/** How one try at writing a batch ended. */
type Attempt = { ok: true; touched: Set<RunSession>; failed: Map<RunSession, unknown> } | { ok: false; error: unknown };

/**
 * Writes one group-commit batch: every message in one transaction, each message's fault
 * contained to its run, the answers (acks, rejections, retries) and what the commit made
 * visible sent after it.
 */
export class BatchCommitter {
  constructor(
    private readonly d: BatchDeps,
    private readonly writer: MessageWriter,
  ) {}

  /**
   * Writes a batch as a whole first: no savepoints, writes pipelined. Only when that fails
   * because of one message's data (not the database being unreachable or the lease lost) is it
   * undone in memory and written again, each message in a savepoint of its own, so the fault
   * fails only its run. Either way acks go out after the commit.
   */
  async commit(batch: Pending[]): Promise<void> {
    const now = new Date().toISOString();
    const marks = new Map([...new Set(batch.map((p) => p.session))].map((s) => [s, s.mark()]));
    let done = await this.attempt(batch, now, true);
    if (!done.ok && !(done.error instanceof LeaseLost) && !this.d.store.isTransient(done.error)) {
      this.undo(batch, marks);
      done = await this.attempt(batch, now, false);
    }
    if (done.ok) this.afterCommit(batch, done.touched, done.failed);
    else await this.failBatch(batch, done.error);
  }

  private async attempt(batch: Pending[], now: string, whole: boolean): Promise<Attempt> {
    const touched = new Set<RunSession>();
    /** Runs with a message that failed in this batch, and why. */
    const failed = new Map<RunSession, unknown>();
    try {
      await (whole ? this.d.store.transactBatch : this.d.store.transact)(async () => {
        for (const p of batch) await this.write(p, now, touched, failed, whole);
        await this.d.records.progressAll([...touched].map((s) => ({ id: s.ref.id, lastSeq: s.lastSeq, lastStep: s.lastStep, epoch: s.epoch })), now);
        await this.d.ledger.flush(now);
      });
      return { ok: true, touched, failed };
    } catch (error) {
      return { ok: false, error };
    }
  }

  /**
   * One message. Written as part of the whole batch, only a Rejection (found before anything is
   * written) leaves the others standing; any other fault fails the batch. Otherwise the message
   * has a savepoint of its own: a fault rolls back this message only, and its run waits for the
   * re-send (only lastSeq + 1 is ever stored, so nothing after it lands first).
   */
  private async write(p: Pending, now: string, touched: Set<RunSession>, failed: Map<RunSession, unknown>, whole: boolean): Promise<void> {
    const s = p.session;
    touched.add(s);
    if (p.msg.type === 'resend' || p.msg.seq !== s.lastSeq + 1) return;
    const stepBefore = s.lastStep;
    const endedBefore = s.ended;
    try {
      if (!p.error) await this.d.store.transact(() => this.writer.apply(p, now));
    } catch (e) {
      this.forgetWrites(p);
      s.restoreEnded(endedBefore);
      // Nothing more may run outside the transaction: the whole batch fails and is retried.
      if (!this.d.store.inTransaction()) throw e;
      if (e instanceof Rejection) {
        p.error = e;
      } else {
        if (whole) throw e;
        failed.set(s, e);
        s.reset(s.lastSeq, stepBefore);
        return;
      }
    }
    s.committed(p.msg.seq);
  }

  /**
   * Memory back to before a batch whose transaction rolled back, to write it again: progress,
   * verdicts and the model as they were, cached points and alerts read again. The rule engines
   * keep what they saw and see those steps once more.
   */
  private undo(batch: readonly Pending[], marks: ReadonlyMap<RunSession, SessionMark>): void {
    for (const p of batch) this.forgetWrites(p);
    for (const [s, m] of marks) s.restore(m);
    this.d.ledger.forget();
  }

  /** A rolled-back message announces nothing, and cached state of its run is read again. */
  private forgetWrites(p: Pending): void {
    delete p.live;
    delete p.alerts;
    delete p.diagnoses;
    delete p.stop;
    p.session.forgetDiagnoses();
    this.d.points.forget(p.session.ref.id);
    this.d.ledger.forget(p.session.ref.id);
  }

  private async failBatch(batch: Pending[], e: unknown): Promise<void> {
    const lost = e instanceof LeaseLost ? e.runId : null;
    const transient = lost !== null || this.d.store.isTransient(e);
    this.d.ledger.forget();
    // Every run of the batch, written or not (the transaction may have failed to begin): their
    // accepted seqs are forgotten, so the re-sends are stored.
    for (const s of new Set(batch.map((p) => p.session))) {
      this.d.points.forget(s.ref.id);
      // The verdict the batch would have stored is not stored: write the next one whatever it is.
      s.forgetDiagnoses();
      // Another server holds the run now: this server lets go of it and of its connection.
      if (s.ref.id === lost) this.lostLease(s);
      else await this.refreshAfterFailure(s);
    }
    for (const p of batch) if (p.session.ref.id !== lost) p.peer.send(retryError(p.msg.seq, transient));
    if (!transient) this.d.log.error({ err: e }, 'ingest transaction failed');
  }

  /** Memory back to what is stored; when the database cannot be read either, the run is dropped and re-read at the next hello. */
  private async refreshAfterFailure(s: RunSession): Promise<void> {
    try {
      await this.d.sessions.refresh(s);
    } catch {
      this.d.sessions.evict(s.uid);
      s.owner?.send({ type: 'error', code: 'retry', message: 'the database is unreachable; reconnect and say hello again after a back-off' });
      s.owner?.close(1011, 'database unreachable');
    }
  }

  private lostLease(s: RunSession): void {
    this.d.sessions.evict(s.uid);
    s.owner?.send({ type: 'error', code: 'replaced', message: 'another server took over this run; reconnect to continue' });
    s.owner?.close(1000, 'replaced');
  }

  private afterCommit(batch: Pending[], touched: Set<RunSession>, failed: Map<RunSession, unknown>): void {
    for (const [s, e] of failed) {
      if (!this.d.store.isTransient(e)) this.d.log.error({ err: e, run: s.uid }, 'ingest message failed; rolled back alone');
    }
    announceCommitted(batch, failed, this.d.listener, (e) => this.d.store.isTransient(e));
    for (const s of touched) this.d.listener.runChanged(s.uid);
  }
}
