import type { EndStatus, EvalMsg, HistItem, HistMsg, ModelMsg, StepItem } from '@gradwatch/shared';
import type { EndReport, Rejected } from './report.js';
import { IngestSession, type SessionOptions } from './session.js';

export interface IngestClientOptions extends SessionOptions {
  /** Steps per `steps` message; capped by the server's limits. */
  batchSize?: number;
  /** How long a partial batch waits before it is sent. */
  flushMs?: number;
}

/**
 * Streams a run over the ingest socket: batches steps into messages, and waits for the acks
 * (`flush`, `end`). Messages go as MessagePack binary frames when the server accepts them (NaN and
 * ±Infinity as raw floats), else as JSON with NaN and ±Infinity as the protocol's markers
 * (`encoding: 'json'` forces JSON); a message the server refuses is reported once on the log and counted in what `end()` returns.
 */
export class IngestClient extends IngestSession {
  private batch: StepItem[] = [];
  private batchTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: IngestClientOptions) {
    super(options);
  }

  /** Messages refused by the server (or too large to send): nothing of them is stored. */
  get rejected(): readonly Rejected[] {
    return this.refusals.list;
  }

  protected batched(): number {
    return this.batch.length;
  }

  private batchLimit(): number {
    const mine = this.options.batchSize ?? 100;
    return this.limits ? Math.min(mine, this.limits.maxItemsPerMessage) : mine;
  }

  /** Queues the model description; returns its seq (provisional until the first welcome). */
  model(m: Omit<ModelMsg, 'seq' | 'type'>): number {
    this.flushBatch();
    return this.push({ type: 'model', ...m });
  }

  /** Queues one step; NaN and ±Infinity anywhere in it are sent as the protocol's markers. */
  step(item: StepItem): void {
    if (this.fatal) return;
    this.batch.push(item);
    if (this.batch.length >= this.batchLimit()) this.flushBatch();
    else this.batchTimer ??= setTimeout(() => this.flushBatch(), this.options.flushMs ?? 50);
  }

  eval(e: Omit<EvalMsg, 'seq' | 'type'>): number {
    this.flushBatch();
    return this.push({ type: 'eval', ...e });
  }

  hist(h: Omit<HistMsg, 'seq' | 'type'>): number {
    this.flushBatch();
    return this.push({ type: 'hist', ...h });
  }

  /**
   * Queues histograms: as `hists` messages of at most maxItemsPerMessage when the last welcome
   * offered them, else one `hist` each (before any welcome too); returns the last seq.
   */
  hists(items: readonly HistItem[]): number {
    this.flushBatch();
    let seq = 0;
    if (!this.features.includes('hists')) {
      for (const h of items) seq = this.push({ type: 'hist', ...h });
      return seq;
    }
    const per = this.limits?.maxItemsPerMessage ?? 1000;
    for (let i = 0; i < items.length; i += per) seq = this.push({ type: 'hists', items: items.slice(i, i + per) });
    return seq;
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

  /** Resolves once every message so far is acked (or refused); rejects after timeoutMs or on a fatal error. */
  flush(timeoutMs = 30_000): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    this.flushBatch();
    if (this.outbox.entries.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.outbox.entries.length} messages still unacked after ${timeoutMs} ms`)), timeoutMs);
      this.idleWaiters.push({
        resolve: () => (clearTimeout(t), resolve()),
        reject: (e) => (clearTimeout(t), reject(e)),
      });
    });
  }

  /**
   * Ends the run and resolves once everything is acked, with what was stored and refused. The
   * status defaults to `stopped` when the server asked the run to stop, else `completed`.
   */
  async end(status?: EndStatus, timeoutMs?: number): Promise<EndReport> {
    if (this.fatal) throw this.fatal;
    const s = status ?? (this.stopRequested ? 'stopped' : 'completed');
    this.flushBatch();
    this.push({ type: 'end', status: s });
    await this.flush(timeoutMs);
    return this.refusals.report(s, this.acked);
  }

  /** Pending messages (sent or not) that the server has not acked. */
  get unacked(): number {
    return this.outbox.entries.length + this.batch.length;
  }

  override close(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = null;
    super.close();
  }
}
