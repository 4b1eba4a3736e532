import { decodeTree } from '@gradwatch/shared';
import type { ProjectsService } from '../projects/projects.service.js';
import { peaksOf, withPeaks, type AlertHistory } from '../alerts/alert-history.js';
import type { DiagnosingRunEngine, ModelView } from '../rules/types.js';
import type { RunRecord, RunRecords } from '../runs/run-records.js';
import { RunSession, type RuleSettingsMap } from './run-session.js';

export type EngineFactory = (settings: RuleSettingsMap) => DiagnosingRunEngine;

export interface RunSessionsOptions {
  /** This server, as named in run leases. */
  serverId: string;
  /**
   * Several servers share the store: a run may have been written elsewhere since this server
   * last held it, so a hello always restores it from what is stored and takes the lease.
   */
  shared: boolean;
  /** A run's stored alerts, oldest first: the changes that made them, and those still open. */
  history: (runUid: string) => Promise<AlertHistory>;
}

/**
 * Makes and keeps the RunSession of every run being ingested. A session is restored from what
 * is stored (progress, rule settings, the model — replayed into a fresh rule engine — and the
 * alerts so far, which the engine's verdict recalls and whose open ones its rules take up), so a run
 * resumed after a restart, or on another server, is judged by the same rules as before.
 */
export class RunSessions {
  private readonly byUid = new Map<string, RunSession>();

  constructor(
    private readonly records: RunRecords,
    private readonly projects: ProjectsService,
    private readonly engineFactory: EngineFactory,
    private readonly opts: RunSessionsOptions,
  ) {}

  get(uid: string): RunSession | undefined {
    return this.byUid.get(uid);
  }

  /**
   * The run's session for a hello: from memory on a single-server store, else restored from
   * the database under a new lease. undefined for no such run. `onReplaced` hears of a cached
   * session dropped for a fresh one (its connection, if any, must be told).
   */
  async claim(uid: string, onReplaced: (old: RunSession) => void): Promise<RunSession | undefined> {
    const cached = this.byUid.get(uid);
    if (cached && !this.opts.shared) return cached;
    const row = await this.records.find(uid);
    if (!row) return undefined;
    const epoch = await this.records.claim(row.id, this.opts.serverId);
    // Claimed after reading: progress committed by an earlier owner before the claim is in `row`
    // only if read after it, so read again (the claim fences every later commit of theirs).
    const fresh = epoch === 0 ? row : await this.records.find(uid);
    if (!fresh) return undefined;
    const session = await this.restore(fresh, epoch);
    if (cached) onReplaced(cached);
    this.byUid.set(uid, session);
    return session;
  }

  private async restore(row: RunRecord, epoch: number): Promise<RunSession> {
    const project = await this.projects.nameOf(row.projectId);
    const p = await this.projects.find(project);
    const settings = p ? this.projects.ruleSettings(p) : {};
    const session = new RunSession({
      ref: { id: row.id, uid: row.uid, projectId: row.projectId, project },
      lastSeq: row.lastSeq,
      lastStep: row.lastStep,
      engine: this.engineFactory(settings),
      settings,
      diagnosesJson: row.diagnoses,
      epoch,
      ended: row.status !== 'live',
    });
    const history = await this.opts.history(row.uid);
    // The verdict is about the whole run: the alerts before this engine count in it too, each
    // rule at the worst severity the stored verdict gave it.
    session.engine.recall(withPeaks(history.changes, peaksOf(row.diagnoses)));
    if (row.model) {
      const model = JSON.parse(row.model) as ModelView;
      // Stored as it came on the wire: markers become numbers again, as in a live model message.
      if (model.optimizer) model.optimizer = decodeTree(model.optimizer);
      session.setModel(model);
      // The alerts this model raised before are stored already: the replay only rebuilds state.
      session.engine.onModel(model);
    }
    // After the replay, whose opens they replace: the stored ones keep their start and their key.
    session.engine.restoreOpen(history.open);
    return session;
  }

  /** Re-reads stored progress into a session after a rollback or a rewind left memory ahead. */
  async refresh(session: RunSession): Promise<void> {
    const row = await this.records.find(session.uid);
    if (row) {
      session.reset(row.lastSeq, row.lastStep);
      session.restoreEnded(row.status !== 'live');
    }
  }

  /** New settings for a project's runs in memory: each gets a fresh engine that knows its model. */
  applySettings(projectId: number, settings: RuleSettingsMap): void {
    for (const s of this.byUid.values()) if (s.ref.projectId === projectId) s.useEngine(this.engineFactory(settings), settings);
  }

  /** Sessions held. */
  get size(): number {
    return this.byUid.size;
  }

  evict(uid: string): RunSession | undefined {
    const s = this.byUid.get(uid);
    this.byUid.delete(uid);
    return s;
  }

  /** Uids of runs with a connected training job. */
  connected(): Set<string> {
    const out = new Set<string>();
    for (const s of this.byUid.values()) if (s.owner !== null) out.add(s.uid);
    return out;
  }
}
