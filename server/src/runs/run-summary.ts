import { topVerdict, type Diagnosis, type LiveRun, type RunStatus, type RunSummary } from '@gradwatch/shared';
import type { AlertCounts } from '../alerts/alerts.service.js';
import type { RunRow } from './runs.repo.js';

const NO_ALERTS: AlertCounts = { info: 0, warning: 0, critical: 0 };

/** live vs stale is derived, never stored: a live run is connected or heard from lately. */
export function statusOf(r: RunRow, connected: boolean, staleBefore: string): RunStatus {
  if (r.status !== 'live') return r.status as RunStatus;
  return connected || r.lastSeenAt >= staleBefore ? 'live' : 'stale';
}

/** The stored verdict of a run, rank 1 first. */
export const diagnosesOf = (r: RunRow): Diagnosis[] => JSON.parse(r.diagnoses) as Diagnosis[];


export function toSummary(r: RunRow, project: string, status: RunStatus, counts: AlertCounts | undefined): RunSummary {
  return {
    id: r.uid,
    project,
    name: r.name,
    tags: JSON.parse(r.tags) as string[],
    status,
    lastStep: r.lastStep,
    lastSeq: r.lastSeq,
    createdAt: r.createdAt,
    lastSeenAt: r.lastSeenAt,
    endedAt: r.endedAt,
    openAlerts: counts ?? NO_ALERTS,
    diagnosis: topVerdict(diagnosesOf(r)),
  };
}

export const toLiveRun = (r: RunRow, status: RunStatus): LiveRun => ({ type: 'run', runId: r.uid, status, lastStep: r.lastStep, lastSeenAt: r.lastSeenAt });

export function encodeCursor(r: RunRow): string {
  return Buffer.from(JSON.stringify([r.lastSeenAt, r.id])).toString('base64url');
}

export function decodeCursor(c: string): { lastSeenAt: string; id: number } | null {
  try {
    const [lastSeenAt, id] = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof lastSeenAt === 'string' && typeof id === 'number') return { lastSeenAt, id };
  } catch {
    // fall through: an unreadable cursor is the caller's error
  }
  return null;
}
