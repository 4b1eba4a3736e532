import { decodeTree } from '@gradwatch/shared';
import type { ProjectsService } from '../projects/projects.service.js';
import type { DiagnosingRunEngine, ModelView } from '../rules/types.js';
import type { RunRecord, RunRecords } from '../runs/run-records.js';
import { RunSession, type RuleSettingsMap } from './run-session.js';

export type EngineFactory = (settings: RuleSettingsMap) => DiagnosingRunEngine;

/**
 * Makes and keeps the RunSession of every run being ingested. A session is restored from what
 * is stored (progress, rule settings, the model — replayed into a fresh rule engine), so a run
 * resumed after a restart is judged by the same rules as before it.
 */
export class RunSessions {
  private readonly byUid = new Map<string, RunSession>();

  constructor(
    private readonly records: RunRecords,
    private readonly projects: ProjectsService,
    private readonly engineFactory: EngineFactory,
  ) {}

  get(uid: string): RunSession | undefined {
    return this.byUid.get(uid);
  }

  /** The run's session, restored from the database when not in memory; undefined for no such run. */
  load(uid: string): RunSession | undefined {
    const cached = this.byUid.get(uid);
    if (cached) return cached;
    const row = this.records.find(uid);
    if (!row) return undefined;
    const session = this.restore(row);
    this.byUid.set(uid, session);
    return session;
  }

  private restore(row: RunRecord): RunSession {
    const project = this.projects.nameOf(row.projectId);
    const p = this.projects.find(project);
    const settings = p ? this.projects.ruleSettings(p) : {};
    const session = new RunSession({
      ref: { id: row.id, uid: row.uid, projectId: row.projectId, project },
      lastSeq: row.lastSeq,
      lastStep: row.lastStep,
      engine: this.engineFactory(settings),
      settings,
      diagnosesJson: row.diagnoses,
    });
    if (row.model) {
      const model = JSON.parse(row.model) as ModelView;
      // Stored as it came on the wire: markers become numbers again, as in a live model message.
      if (model.optimizer) model.optimizer = decodeTree(model.optimizer);
      session.setModel(model);
      // The alerts this model raised before are stored already: the replay only rebuilds state.
      session.engine.onModel(model);
    }
    return session;
  }

  /** Re-reads stored progress into a session after a rollback or a rewind left memory ahead. */
  refresh(session: RunSession): void {
    const row = this.records.find(session.uid);
    if (row) session.reset(row.lastSeq, row.lastStep);
  }

  /** New settings for a project's runs in memory: each gets a fresh engine that knows its model. */
  applySettings(projectId: number, settings: RuleSettingsMap): void {
    for (const s of this.byUid.values()) if (s.ref.projectId === projectId) s.useEngine(this.engineFactory(settings), settings);
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
