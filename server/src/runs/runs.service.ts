import type { LiveRun, RunDetail, RunDiagnosis, RunList, RunListQuery } from '@gradwatch/shared';
import type { AlertsService } from '../alerts/alerts.service.js';
import { badRequest, notFound } from '../http-errors.js';
import type { PointStore } from '../points/point-store.js';
import type { ProjectsService } from '../projects/projects.service.js';
import type { Transact } from '../storage/db.js';
import { decodeCursor, diagnosesOf, encodeCursor, statusOf, toLiveRun, toSummary } from './run-summary.js';
import type { RunRow, RunsRepo } from './runs.repo.js';

/** Who must hear before a run is deleted: ingest commits and drops it, live ends its subscriptions. */
export type RunDeletionListener = (run: RunRow) => void;

export interface RunsServiceDeps {
  repo: RunsRepo;
  points: PointStore;
  alerts: AlertsService;
  projects: ProjectsService;
  transact: Transact;
  staleAfterS: number;
  /** Uids of runs with a connected training job (from ingest, late-bound). */
  connected: () => ReadonlySet<string>;
}

/** Runs: listing, detail, live status, deletion and retention. */
export class RunsService {
  private readonly deletionListeners: RunDeletionListener[] = [];

  constructor(private readonly d: RunsServiceDeps) {}

  private staleBefore(): string {
    return new Date(Date.now() - this.d.staleAfterS * 1000).toISOString();
  }

  find(uid: string): RunRow | undefined {
    return this.d.repo.byUid(uid);
  }

  /** The run, or a 404 naming it. */
  require(uid: string): RunRow {
    const r = this.d.repo.byUid(uid);
    if (!r) throw notFound(`no run ${uid}`);
    return r;
  }

  /** The project a run belongs to, for access checks; null when there is no such run. */
  projectOf(uid: string): string | null {
    const r = this.d.repo.byUid(uid);
    return r ? this.d.projects.nameOf(r.projectId) : null;
  }

  list(q: RunListQuery): RunList {
    const limit = q.limit ?? 50;
    const cursor = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
    if (cursor === null) throw badRequest('cursor is not one this server issued');
    const statuses = q.status?.split(',').filter(Boolean);
    const connected = this.d.connected();
    const staleBefore = this.staleBefore();
    const { rows, total } = this.d.repo.list({
      ...(q.project !== undefined ? { project: q.project } : {}),
      ...(statuses ? { statuses } : {}),
      ...(q.search ? { search: q.search } : {}),
      ...(cursor ? { cursor } : {}),
      staleBefore,
      connected: [...connected],
      limit,
    });
    const counts = this.d.alerts.openCounts(rows.map((r) => r.id));
    const last = rows[rows.length - 1];
    return {
      runs: rows.map((r) => toSummary(r, r.project, statusOf(r, connected.has(r.uid), staleBefore), counts.get(r.id))),
      total,
      nextCursor: rows.length === limit && last ? encodeCursor(last) : null,
    };
  }

  detail(uid: string): RunDetail {
    const r = this.require(uid);
    const status = statusOf(r, this.d.connected().has(r.uid), this.staleBefore());
    return {
      ...toSummary(r, this.d.projects.nameOf(r.projectId), status, this.d.alerts.openCounts([r.id]).get(r.id)),
      config: JSON.parse(r.config) as Record<string, unknown>,
      framework: r.framework,
      host: r.host,
      worldSize: r.worldSize,
      model: r.model ? (JSON.parse(r.model) as RunDetail['model']) : null,
      events: this.d.repo.events(r.id).map((e) => ({ kind: e.kind, step: e.step, detail: JSON.parse(e.detail) as Record<string, unknown>, at: e.at })),
      pointCount: this.d.points.stepCount(r.id),
    };
  }

  /** The run's ranked verdict as last computed. */
  diagnosis(uid: string): RunDiagnosis {
    const r = this.require(uid);
    return { runId: r.uid, diagnoses: diagnosesOf(r) };
  }

  live(uid: string): LiveRun | null {
    const r = this.d.repo.byUid(uid);
    return r ? toLiveRun(r, statusOf(r, this.d.connected().has(r.uid), this.staleBefore())) : null;
  }

  onDeleting(listener: RunDeletionListener): void {
    this.deletionListeners.push(listener);
  }

  /** Deletes a run and all its data; whoever holds it in memory is told first. */
  delete(uid: string): void {
    const run = this.require(uid);
    for (const l of this.deletionListeners) l(run);
    this.d.transact(() => {
      this.d.points.deleteRun(run.id);
      this.d.repo.deleteRun(run.id);
    });
  }

  deleteProject(name: string): void {
    const p = this.d.projects.require(name);
    for (const r of this.d.repo.runsOfProject(p.id)) this.delete(r.uid);
    this.d.projects.delete(p.id);
  }

  /**
   * Deletes every run whose last activity (last message, or its end) is older than `days`, as
   * DELETE /api/v1/runs/:id does. A run with a connected job is kept whatever its age.
   */
  pruneInactive(days: number, now = Date.now()): number {
    const connected = this.d.connected();
    let n = 0;
    for (const uid of this.d.repo.inactiveSince(new Date(now - days * 86_400_000).toISOString())) {
      if (connected.has(uid)) continue;
      this.delete(uid);
      n++;
    }
    return n;
  }
}
