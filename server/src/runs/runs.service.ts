import type { LiveRun, RunDetail, RunStatus, RunSummary } from '@gradwatch/shared';
import type { PointsRepo } from '../storage/points.repo.js';
import type { RunRow, RunsRepo } from '../storage/runs.repo.js';

export interface RunListQuery {
  project?: string;
  status?: string;
  search?: string;
  cursor?: string;
  limit?: number;
}

function encodeCursor(r: RunRow): string {
  return Buffer.from(JSON.stringify([r.lastSeenAt, r.id])).toString('base64url');
}

function decodeCursor(c: string): { lastSeenAt: string; id: number } | null {
  try {
    const [lastSeenAt, id] = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof lastSeenAt === 'string' && typeof id === 'number') return { lastSeenAt, id };
  } catch {
    // fall through: an unreadable cursor is the caller's error
  }
  return null;
}

export class BadRequest extends Error {}

/** Run status and summaries; live vs stale is derived, never stored. */
export class RunsService {
  constructor(
    private readonly repo: RunsRepo,
    private readonly points: PointsRepo,
    private readonly staleAfterS: number,
    private readonly isConnected: (uid: string) => boolean,
    private readonly connected: () => string[],
  ) {}

  private staleBefore(): string {
    return new Date(Date.now() - this.staleAfterS * 1000).toISOString();
  }

  status(r: RunRow): RunStatus {
    if (r.status !== 'live') return r.status as RunStatus;
    return this.isConnected(r.uid) || r.lastSeenAt >= this.staleBefore() ? 'live' : 'stale';
  }

  private summary(r: RunRow, project: string, counts: RunSummary['openAlerts'] | undefined): RunSummary {
    return {
      id: r.uid,
      project,
      name: r.name,
      tags: JSON.parse(r.tags) as string[],
      status: this.status(r),
      lastStep: r.lastStep,
      lastSeq: r.lastSeq,
      createdAt: r.createdAt,
      lastSeenAt: r.lastSeenAt,
      endedAt: r.endedAt,
      openAlerts: counts ?? { info: 0, warning: 0, critical: 0 },
    };
  }

  list(q: RunListQuery): { runs: RunSummary[]; total: number; nextCursor: string | null } {
    const limit = q.limit ?? 50;
    const cursor = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
    if (cursor === null) throw new BadRequest('cursor is not one this server issued');
    const statuses = q.status?.split(',').filter(Boolean);
    const { rows, total } = this.repo.list({
      ...(q.project !== undefined ? { project: q.project } : {}),
      ...(statuses ? { statuses } : {}),
      ...(q.search ? { search: q.search } : {}),
      ...(cursor ? { cursor } : {}),
      staleBefore: this.staleBefore(),
      connected: this.connected(),
      limit,
    });
    const counts = this.repo.openAlertCounts(rows.map((r) => r.id));
    const last = rows[rows.length - 1];
    return {
      runs: rows.map((r) => this.summary(r, r.project, counts.get(r.id))),
      total,
      nextCursor: rows.length === limit && last ? encodeCursor(last) : null,
    };
  }

  detail(uid: string): RunDetail | null {
    const r = this.repo.byUid(uid);
    if (!r) return null;
    const project = this.repo.projectName(r.projectId);
    return {
      ...this.summary(r, project, this.repo.openAlertCounts([r.id]).get(r.id)),
      config: JSON.parse(r.config) as Record<string, unknown>,
      framework: r.framework,
      host: r.host,
      worldSize: r.worldSize,
      model: r.model ? (JSON.parse(r.model) as RunDetail['model']) : null,
      events: this.repo.events(r.id).map((e) => ({
        kind: e.kind,
        step: e.step,
        detail: JSON.parse(e.detail) as Record<string, unknown>,
        at: e.at,
      })),
      pointCount: this.points.stepCount(r.id),
    };
  }

  live(uid: string): LiveRun | null {
    const r = this.repo.byUid(uid);
    if (!r) return null;
    return { type: 'run', runId: r.uid, status: this.status(r), lastStep: r.lastStep, lastSeenAt: r.lastSeenAt };
  }
}
