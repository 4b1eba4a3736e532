import type { Alert } from '@gradwatch/shared';
import type { AlertRow } from './alerts.repo.js';

/** The REST/wire shape of a stored alert. */
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
    ...(row.layers !== null ? { layers: JSON.parse(row.layers) as string[] } : {}),
    firstStep: row.firstStep,
    lastStep: row.lastStep,
    evidence: JSON.parse(row.evidence) as Record<string, unknown>,
    advice: row.advice,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    ...(row.resolvedAt !== null ? { resolvedAt: row.resolvedAt } : {}),
    ...(row.resolvedReason !== null ? { resolvedReason: row.resolvedReason } : {}),
  };
}
