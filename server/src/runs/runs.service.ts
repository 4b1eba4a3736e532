import type { LiveRun, RunDetail, RunDiagnosis, RunList, RunListQuery } from '@gradwatch/shared';
import type { AlertsService } from '../alerts/alerts.service.js';
import { badRequest, notFound } from '../http-errors.js';
import type { PointStore } from '../points/point-store.js';
import type { ProjectsService } from '../projects/projects.service.js';
import type { Transact } from '../storage/backend.js';
import { decodeCursor, diagnosesOf, encodeCursor, statusOf, toLiveRun, toSummary } from './run-summary.js';
import type { RunRow, RunsRepo } from './runs.repo.js';

/** Who must hear before a run is deleted: ingest commits and drops it, live ends its subscriptions. */
export type RunDeletionListener = (run: RunRow) => void | Promise<void>;

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

  find(uid: string): Promise<RunRow | undefined> {
    return this.d.repo.byUid(uid);
  }

  /** The run, or a 404 naming it. */
  async require(uid: string): Promise<RunRow> {
    const r = await this.d.repo.byUid(uid);
    if (!r) throw notFound(`no run ${uid}`);
    return r;
  }

  /** The project a run belongs to, for access checks; null when there is no such run. */
  async projectOf(uid: string): Promise<string | null> {
    const r = await this.d.repo.byUid(uid);
    return r ? this.d.projects.nameOf(r.projectId) : null;
  }

  async list(q: RunListQuery): Promise<RunList> {
    const limit = q.limit ?? 50;
    const cursor = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
    if (cursor === null) throw badRequest('cursor is not one this server issued');
    const statuses = q.status?.split(',').filter(Boolean);
    const connected = this.d.connected();
    const staleBefore = this.staleBefore();
    const { rows, total } = await this.d.repo.list({
      ...(q.project !== undefined ? { project: q.project } : {}),
      ...(statuses ? { statuses } : {}),
      ...(q.search ? { search: q.search } : {}),
      ...(cursor ? { cursor } : {}),
      staleBefore,
      connected: [...connected],
      limit,
    });
    const counts = await this.d.alerts.openCounts(rows.map((r) => r.id));
    const last = rows[rows.length - 1];
    return {
      runs: rows.map((r) => toSummary(r, r.project, statusOf(r, connected.has(r.uid), staleBefore), counts.get(r.id))),
      total,
      nextCursor: rows.length === limit && last ? encodeCursor(last) : null,
    };
  }

  async detail(uid: string): Promise<RunDetail> {
    const r = await this.require(uid);
    const status = statusOf(r, this.d.connected().has(r.uid), this.staleBefore());
    return {
      ...toSummary(r, await this.d.projects.nameOf(r.projectId), status, (await this.d.alerts.openCounts([r.id])).get(r.id)),
      config: JSON.parse(r.config) as Record<string, unknown>,
      framework: r.framework,
      host: r.host,
      worldSize: r.worldSize,
      model: r.model ? (JSON.parse(r.model) as RunDetail['model']) : null,
      events: (await this.d.repo.events(r.id)).map((e) => ({ kind: e.kind, step: e.step, detail: JSON.parse(e.detail) as Record<string, unknown>, at: e.at })),
      pointCount: await this.d.points.stepCount(r.id),
    };
  }

  /** The run's ranked verdict as last computed. */
  async diagnosis(uid: string): Promise<RunDiagnosis> {
    const r = await this.require(uid);
    return { runId: r.uid, diagnoses: diagnosesOf(r) };
  }

  async live(uid: string): Promise<LiveRun | null> {
    const r = await this.d.repo.byUid(uid);
    return r ? toLiveRun(r, statusOf(r, this.d.connected().has(r.uid), this.staleBefore())) : null;
  }

  onDeleting(listener: RunDeletionListener): void {
    this.deletionListeners.push(listener);
  }

  /** Deletes a run and all its data; whoever holds it in memory is told first. */
  async delete(uid: string): Promise<void> {
    const run = await this.require(uid);
    for (const l of this.deletionListeners) await l(run);
    await this.d.transact(async () => {
      await this.d.points.deleteRun(run.id);
      await this.d.repo.deleteRun(run.id);
    });
  }

  async deleteProject(name: string): Promise<void> {
    const p = await this.d.projects.require(name);
    for (const r of await this.d.repo.runsOfProject(p.id)) await this.delete(r.uid);
    await this.d.projects.delete(p.id);
  }

  /**
   * Deletes every run whose last activity (last message, or its end) is older than `days`, as
   * DELETE /api/v1/runs/:id does. A run with a connected job is kept whatever its age.
   */
  async pruneInactive(days: number, now = Date.now()): Promise<number> {
    const connected = this.d.connected();
    let n = 0;
    for (const uid of await this.d.repo.inactiveSince(new Date(now - days * 86_400_000).toISOString())) {
      if (connected.has(uid)) continue;
      await this.delete(uid);
      n++;
    }
    return n;
  }
}
