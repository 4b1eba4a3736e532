import { PROTOCOL_VERSION, type Alert, type ErrorCode, type Hello, type Limits, type SeqMsg, type Welcome } from '@gradwatch/shared';
import type { AlertsService } from '../alerts/alerts.service.js';
import type { Config } from '../config.js';
import type { ModelView, RuleSettings, RunEngine } from '../rules/types.js';
import type { Db } from '../storage/db.js';
import type { PointsRepo } from '../storage/points.repo.js';
import type { PointStore } from '../storage/points.service.js';
import type { RunsRepo } from '../storage/runs.repo.js';
import { MessageWriter, Rejection, runRef, type Pending } from './message-writer.js';
import { RunState, SeriesCatalog, type Peer } from './run-state.js';

export { Rejection };

export type EngineFactory = (settings: Record<string, Partial<RuleSettings>>) => RunEngine;

/** Who hears about committed data: the live hub. Ingest never waits for it. */
export interface IngestListener {
  wants(runUid: string): boolean;
  points(runUid: string, batch: Array<{ step: number; names: string[]; values: number[] }>): void;
  alert(alert: Alert): void;
  runChanged(runUid: string): void;
}

/** Messages per transaction: enough to amortize the fsync, small enough to keep latency low. */
const MAX_BATCH = 32;

const TRANSIENT = /SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|PROTOCOL)/;

/**
 * The ingest path: seq bookkeeping per run, validation that needs run state, and group commit.
 * Messages from every connection that arrive within one turn of the event loop are written in a
 * single transaction; acks go out only after it commits.
 */
export class IngestService {
  private readonly states = new Map<string, RunState>();
  private queue: Pending[] = [];
  private scheduled = false;
  readonly limits: Limits;
  private readonly alertsService: AlertsService;
  private readonly writer: MessageWriter;

  constructor(
    private readonly db: Db,
    private readonly runs: RunsRepo,
    private readonly pointsRepo: PointsRepo,
    private readonly points: PointStore,
    alertsService: AlertsService,
    private readonly config: Config,
    private readonly engineFactory: EngineFactory,
    private readonly listener: IngestListener,
  ) {
    this.alertsService = alertsService;
    this.writer = new MessageWriter(runs, pointsRepo, points, alertsService, config.limits, listener);
    const l = config.limits;
    this.limits = {
      maxFrameBytes: l.maxFrameBytes,
      maxLayers: l.maxLayers,
      maxSeriesPerRun: l.maxSeriesPerRun,
      maxItemsPerMessage: l.maxItemsPerMessage,
      maxMessagesPerSecond: l.maxMessagesPerSecond,
      maxStringLength: l.maxStringLength,
    };
  }

  /** Run uids with a connected training job, for live/stale status. */
  connectedRuns(): string[] {
    return [...this.states.values()].filter((s) => s.owner !== null).map((s) => s.uid);
  }

  isConnected(uid: string): boolean {
    return this.states.get(uid)?.owner != null;
  }

  private load(uid: string): RunState | undefined {
    const cached = this.states.get(uid);
    if (cached) return cached;
    const row = this.runs.byUid(uid);
    if (!row) return undefined;
    let settings: Record<string, Partial<RuleSettings>> = {};
    const project = this.runs.projectName(row.projectId);
    try {
      settings = JSON.parse(this.runs.projectByName(project)?.ruleSettings ?? '{}') as typeof settings;
    } catch {
      settings = {};
    }
    const state = new RunState(
      row.id, row.uid, row.projectId, project, row.lastSeq, row.lastStep,
      new SeriesCatalog(this.pointsRepo.seriesOfRun(row.id)), this.pointsRepo.tailCount(row.id),
      this.engineFactory(settings), settings,
    );
    if (row.model) state.setModel(JSON.parse(row.model) as ModelView);
    this.states.set(uid, state);
    return state;
  }

  /**
   * Re-reads a run's persisted state into the object connections hold, after a rewind or a
   * rolled-back transaction left memory ahead of the database. The rule engine keeps its state.
   */
  private refresh(state: RunState): void {
    const row = this.runs.byUid(state.uid);
    if (!row) return;
    state.lastSeq = row.lastSeq;
    state.acceptedSeq = row.lastSeq;
    state.lastStep = row.lastStep;
    state.tailCount = this.pointsRepo.tailCount(row.id);
    state.catalog = new SeriesCatalog(this.pointsRepo.seriesOfRun(row.id));
  }

  /** New rule settings take effect at once for the project's runs in memory (fresh rule state). */
  applyRuleSettings(projectId: number, settings: Record<string, Partial<RuleSettings>>): void {
    for (const s of this.states.values()) {
      if (s.projectId !== projectId) continue;
      s.ruleSettings = settings;
      s.engine = this.engineFactory(settings);
      if (s.model) s.engine.onModel(s.model);
    }
  }

  /** Forgets cached run state, e.g. after its run was deleted. */
  evict(uid: string): void {
    const s = this.states.get(uid);
    s?.owner?.send({ type: 'error', code: 'not_found', message: 'this run was deleted' });
    s?.owner?.close(1008, 'run deleted');
    if (s) this.alertsService.forget(s.id);
    this.states.delete(uid);
  }

  hello(peer: Peer, msg: Hello): { state: RunState; welcome: Welcome; alerts: Alert[] } {
    if (msg.protocol !== PROTOCOL_VERSION) {
      throw new Rejection('protocol', `protocol ${msg.protocol} is not supported; this server speaks ${PROTOCOL_VERSION}`);
    }
    // Anything queued for this run must land before a rewind or a takeover.
    this.flush();
    const now = new Date().toISOString();
    const r = msg.run;
    const alerts: Alert[] = [];
    this.db.$client.transaction(() => {
      const project = this.runs.ensureProject(r.project);
      const existing = this.runs.byUid(r.id);
      const fields = {
        name: r.name,
        tags: JSON.stringify(r.tags ?? []),
        config: JSON.stringify(r.config ?? {}),
        framework: r.framework ?? null,
        host: r.host ?? null,
        worldSize: r.worldSize ?? null,
        lastSeenAt: now,
      };
      if (!existing) {
        this.runs.insert({ uid: r.id, projectId: project.id, createdAt: now, ...fields });
      } else {
        if (existing.projectId !== project.id) {
          throw new Rejection('bad_message', `run ${r.id} belongs to project ${this.runs.projectName(existing.projectId)}, not ${r.project}`);
        }
        this.runs.update(existing.id, { ...fields, status: 'live', endedAt: null });
      }
    })();
    const state = this.load(r.id);
    if (!state) throw new Error(`run ${r.id} missing after hello`);
    if (msg.rewindTo !== undefined) this.rewind(state, msg.rewindTo, now);
    if (state.owner && state.owner !== peer) {
      state.owner.send({ type: 'error', code: 'replaced', message: 'another connection took over this run' });
      state.owner.close(1000, 'replaced');
    }
    state.owner = peer;
    const ref = runRef(state);
    const changes = state.engine.onHello(r);
    if (changes.length) {
      this.db.$client.transaction(() => alerts.push(...this.alertsService.apply(ref, changes, now)))();
    }
    this.listener.runChanged(state.uid);
    const welcome: Welcome = {
      type: 'welcome', protocol: PROTOCOL_VERSION, runId: state.uid, lastSeq: state.lastSeq, limits: this.limits,
    };
    if (state.lastStep !== null) welcome.lastStep = state.lastStep;
    return { state, welcome, alerts };
  }

  private rewind(state: RunState, step: number, now: string): void {
    this.db.$client.transaction(() => {
      this.points.rewind(state.id, step);
      const lastStep = step > 0 ? step - 1 : null;
      const kept = state.lastStep === null ? null : Math.min(state.lastStep, lastStep ?? -1);
      this.runs.update(state.id, { lastStep: kept !== null && kept >= 0 ? kept : null });
      this.runs.addEvent(state.id, 'rewind', step, { previousLastStep: state.lastStep }, now);
    })();
    this.refresh(state);
  }

  detach(peer: Peer, state: RunState | null): void {
    if (state && state.owner === peer) {
      state.owner = null;
      this.listener.runChanged(state.uid);
    }
  }

  /** The seq rules: true when seq is the next to store; re-sends and gaps are answered here. */
  private next(peer: Peer, state: RunState, seq: number): boolean {
    if (seq <= state.acceptedSeq) {
      if (seq <= state.lastSeq) peer.send({ type: 'ack', seq });
      else this.enqueue({ peer, state, msg: { type: 'resend', seq } });
      return false;
    }
    if (seq > state.acceptedSeq + 1) {
      const expected = state.acceptedSeq + 1;
      peer.send({ type: 'error', code: 'gap', seq, expected, message: `expected seq ${expected}, got ${seq}` });
      return false;
    }
    state.acceptedSeq = seq;
    return true;
  }

  submit(peer: Peer, state: RunState, msg: SeqMsg): void {
    if (this.next(peer, state, msg.seq)) this.enqueue({ peer, state, msg });
  }

  /** A message whose content failed validation: nothing is stored, but its seq is consumed. */
  reject(peer: Peer, state: RunState, seq: number, code: ErrorCode, message: string): void {
    if (this.next(peer, state, seq)) {
      this.enqueue({ peer, state, msg: { type: 'rejected', seq }, error: new Rejection(code, message) });
    }
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
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.commitBatch();
      if (this.queue.length > 0) this.schedule();
    });
  }

  /** Commits everything queued now (before a hello, a delete, or shutdown). */
  flush(): void {
    while (this.queue.length > 0) this.commitBatch();
  }

  private commitBatch(): void {
    const batch = this.queue.splice(0, MAX_BATCH);
    const now = new Date().toISOString();
    const touched = new Set<RunState>();
    try {
      this.db.$client.transaction(() => {
        for (const p of batch) {
          touched.add(p.state);
          if (p.msg.type === 'resend') continue;
          if (!p.error) {
            try {
              this.writer.apply(p, now);
            } catch (e) {
              if (!(e instanceof Rejection)) throw e;
              p.error = e;
            }
          }
          p.state.lastSeq = p.msg.seq;
        }
        for (const s of touched) {
          this.runs.updateProgress(s.id, s.lastSeq, s.lastStep, now);
        }
        this.alertsService.flush(now);
      })();
    } catch (e) {
      this.failBatch(batch, touched, e);
      return;
    }
    this.afterCommit(batch, touched);
  }

  private failBatch(batch: Pending[], touched: Set<RunState>, e: unknown): void {
    const msg = e instanceof Error ? e.message : String(e);
    const code = (e as { code?: string }).code ?? '';
    const transient = TRANSIENT.test(code) || TRANSIENT.test(msg);
    for (const s of touched) this.refresh(s);
    this.alertsService.forget();
    for (const p of batch) {
      p.peer.send({
        type: 'error',
        code: transient ? 'retry' : 'internal',
        seq: p.msg.seq,
        message: transient ? 'the database is busy or full; send this message again after a back-off' : 'internal error; send this message again later',
      });
    }
    if (!transient) console.error('ingest transaction failed', e);
  }

  private afterCommit(batch: Pending[], touched: Set<RunState>): void {
    for (const p of batch) {
      if (p.error) {
        p.peer.send({ type: 'error', code: p.error.code, seq: p.msg.seq, message: p.error.message });
      } else if (p.msg.seq > p.state.lastSeq) {
        // A re-send whose original was rolled back in an earlier batch.
        p.peer.send({ type: 'error', code: 'retry', seq: p.msg.seq, message: 'not stored yet; send it again' });
      } else {
        p.peer.send({ type: 'ack', seq: p.msg.seq });
      }
      if (p.live?.length) this.listener.points(p.state.uid, p.live);
      for (const a of p.alerts ?? []) {
        p.state.owner?.send({ type: 'alert', alert: a });
        this.listener.alert(a);
      }
      if (p.stop) p.state.owner?.send({ type: 'command', action: 'stop', reason: p.stop });
    }
    for (const s of touched) this.listener.runChanged(s.uid);
  }
}
