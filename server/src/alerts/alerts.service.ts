import type { Alert, AlertMarks, AlertPage, AlertQuery, RunSummary } from '@gradwatch/shared';
import { badRequest, notFound } from '../http-errors.js';
import { isoOf } from '../rfc3339.js';
import { toAlert } from './alert-dto.js';
import type { AlertLedger } from './alert-ledger.js';
import type { AlertFilter, AlertsRepo } from './alerts.repo.js';

export type AlertCounts = RunSummary['openAlerts'];

/** Alert queries and the marks a person sets on an alert (acknowledged, muted). */
export class AlertsService {
  constructor(
    private readonly repo: AlertsRepo,
    private readonly ledger: AlertLedger,
  ) {}

  async page(q: AlertQuery): Promise<AlertPage> {
    const limit = q.limit ?? 100;
    const f: AlertFilter = {
      limit,
      ...(q.project !== undefined ? { project: q.project } : {}),
      ...(q.run !== undefined ? { runUid: q.run } : {}),
      ...(q.rule !== undefined ? { rule: q.rule } : {}),
      ...(q.severity !== undefined ? { severity: q.severity.split(',') } : {}),
      ...(q.status !== undefined ? { status: q.status } : {}),
      ...(q.layer !== undefined ? { layer: q.layer } : {}),
      ...(q.since !== undefined ? { since: isoOf('since', q.since) } : {}),
      ...(q.until !== undefined ? { until: isoOf('until', q.until) } : {}),
      ...(q.cursor !== undefined ? { beforeId: Number(q.cursor) } : {}),
    };
    const rows = await this.repo.list(f);
    const last = rows[rows.length - 1];
    return {
      alerts: rows.map((r) => toAlert(r, r.runUid, r.project)),
      nextCursor: rows.length === limit && last ? String(last.id) : null,
    };
  }

  /** The alert, or a 404. */
  async get(id: number): Promise<Alert> {
    const found = await this.repo.byId(id);
    if (!found) throw notFound(`no alert ${id}`);
    return toAlert(found, found.runUid, found.project);
  }

  /** The project an alert belongs to, for access checks; null when there is no such alert. */
  async projectOf(id: number): Promise<string | null> {
    return (await this.repo.byId(id))?.project ?? null;
  }

  async mark(id: number, marks: AlertMarks): Promise<Alert> {
    if (marks.acknowledged === undefined && marks.muted === undefined) throw badRequest('send acknowledged and/or muted (booleans)');
    const found = await this.repo.byId(id);
    if (!found) throw notFound(`no alert ${id}`);
    const row = await this.ledger.mark(found.id, found.runId, marks, new Date().toISOString());
    return toAlert(row ?? found, found.runUid, found.project);
  }

  /** Open, unmuted alerts per run, by severity. */
  async openCounts(runIds: number[]): Promise<Map<number, AlertCounts>> {
    const out = new Map<number, AlertCounts>();
    for (const r of await this.repo.openCounts(runIds)) {
      const c = out.get(r.runId) ?? { info: 0, warning: 0, critical: 0 };
      if (r.severity === 'info' || r.severity === 'warning' || r.severity === 'critical') c[r.severity] = r.n;
      out.set(r.runId, c);
    }
    return out;
  }
}
