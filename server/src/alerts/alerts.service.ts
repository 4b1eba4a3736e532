import type { Alert } from '@gradwatch/shared';
import type { AlertChange } from '../rules/types.js';
import type { AlertRow, AlertsRepo } from './alerts.repo.js';

export function toAlert(row: AlertRow, runUid: string, project: string): Alert {
  return {
    id: row.id,
    runId: runUid,
    project,
    rule: row.rule,
    section: row.section,
    severity: row.severity as Alert['severity'],
    status: row.status as Alert['status'],
    acknowledged: row.acknowledged,
    muted: row.muted,
    ...(row.layer !== null ? { layer: row.layer } : {}),
    firstStep: row.firstStep,
    lastStep: row.lastStep,
    evidence: JSON.parse(row.evidence) as Record<string, unknown>,
    advice: row.advice,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    ...(row.resolvedAt !== null ? { resolvedAt: row.resolvedAt } : {}),
  };
}

export interface RunRef {
  id: number;
  uid: string;
  projectId: number;
  project: string;
}

/**
 * Applies the engine's transitions: one open alert per (run, rule, layer). Returns the alerts
 * worth announcing (opened, severity changed, resolved); plain updates are stored quietly.
 */
export class AlertsService {
  constructor(private readonly repo: AlertsRepo) {}

  apply(run: RunRef, changes: AlertChange[], now: string): Alert[] {
    const announce: Alert[] = [];
    for (const c of changes) {
      const layer = c.layer ?? null;
      const open = this.repo.findOpen(run.id, c.rule, layer);
      const evidence = JSON.stringify(c.evidence, (_k, v: unknown) =>
        typeof v === 'number' && !Number.isFinite(v) ? String(v) : v,
      );
      if (c.action === 'resolve') {
        if (!open) continue;
        const row = this.repo.update(open.id, { status: 'resolved', resolvedAt: now, updatedAt: now, lastStep: Math.max(open.lastStep, c.step) });
        if (row) announce.push(toAlert(row, run.uid, run.project));
        continue;
      }
      if (open) {
        const row = this.repo.update(open.id, {
          severity: c.severity,
          lastStep: Math.max(open.lastStep, c.step),
          evidence,
          advice: c.advice,
          updatedAt: now,
        });
        if (row && row.severity !== open.severity) announce.push(toAlert(row, run.uid, run.project));
        continue;
      }
      if (c.action === 'update') continue;
      const row = this.repo.insert({
        runId: run.id,
        projectId: run.projectId,
        rule: c.rule,
        section: c.section,
        severity: c.severity,
        status: 'open',
        layer,
        firstStep: c.step,
        lastStep: c.step,
        evidence,
        advice: c.advice,
        createdAt: now,
        updatedAt: now,
      });
      announce.push(toAlert(row, run.uid, run.project));
    }
    return announce;
  }
}
