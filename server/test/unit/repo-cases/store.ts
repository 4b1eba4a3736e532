import type { AlertsRepo } from '../../../src/alerts/alerts.repo.js';
import type { ProjectsRepo } from '../../../src/projects/projects.repo.js';
import type { RunRow, RunsRepo } from '../../../src/runs/runs.repo.js';
import type { Transact } from '../../../src/storage/backend.js';
import type { TokensRepo } from '../../../src/tokens/tokens.repo.js';
import type { WebhooksRepo } from '../../../src/webhooks/webhooks.repo.js';

/** The repositories under test, on one store (a fresh SQLite file, or an emptied PostgreSQL database). */
export interface Store {
  /** Several servers may write it: claim() fences, as PostgreSQL's does. */
  shared: boolean;
  projects: ProjectsRepo;
  runs: RunsRepo;
  alerts: AlertsRepo;
  webhooks: WebhooksRepo;
  tokens: TokensRepo;
  transact: Transact;
}

/** One expectation, run against every store. */
export interface RepoCase {
  name: string;
  run(s: Store): Promise<void>;
  /** Only for a store shared by several servers (PostgreSQL). */
  sharedOnly?: boolean;
}

export const T0 = '2026-01-01T00:00:00.000Z';
/** T0 plus `min` minutes, as ISO text. */
export const at = (min: number): string => new Date(Date.parse(T0) + min * 60_000).toISOString();
export const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

export type RunInsert = Parameters<RunsRepo['insert']>[0];

/** A run of `project` (created when missing) named after its uid, seen at T0 unless told. */
export async function addRun(s: Store, project: string, uid: string, extra: Partial<RunInsert> = {}): Promise<RunRow> {
  const p = await s.projects.ensure(project);
  return s.runs.insert({ uid, projectId: p.id, name: uid, createdAt: T0, lastSeenAt: T0, ...extra });
}

export type AlertInsert = Parameters<AlertsRepo['insert']>[0];

/** An open warning of `run`, created and updated at T0 unless told. */
export function alertValues(run: RunRow, extra: Partial<AlertInsert> = {}): AlertInsert {
  return {
    runId: run.id,
    projectId: run.projectId,
    rule: 'loss_spike',
    section: 'loss',
    severity: 'warning',
    status: 'open',
    firstStep: 10,
    lastStep: 12,
    evidence: '{"z":3.1}',
    advice: 'lower the learning rate',
    createdAt: T0,
    updatedAt: T0,
    ...extra,
  };
}
