import { decodeTree } from '@gradwatch/shared';
import type { AlertChange } from '../rules/types.js';
import type { Diagnosis, Severity } from '@gradwatch/shared';
import { SEVERITY_RANK } from '../diagnosis/symptoms.js';
import type { AlertRow, AlertsRepo } from './alerts.repo.js';

/** More alerts than a run's rules and layers make in practice; a verdict needs no more. */
const MAX_HISTORY = 10_000;

/** A stored alert as the changes that made it: its open, and its resolve when it resolved. */
export function changesOf(row: AlertRow): AlertChange[] {
  const layers = row.layers ? (JSON.parse(row.layers) as string[]) : undefined;
  const opened: AlertChange = {
    action: 'open', rule: row.rule, section: row.section, severity: row.severity as Severity, step: row.firstStep, firstStep: row.firstStep,
    lastStep: row.lastStep, evidence: decodeTree(JSON.parse(row.evidence)) as Record<string, unknown>, advice: row.advice,
    ...(row.layer !== null ? { layer: row.layer } : {}), ...(layers ? { layers } : {}),
  };
  if (row.status !== 'resolved') return [opened];
  return [opened, { ...opened, action: 'resolve', step: row.lastStep, ...(row.resolvedReason ? { reason: row.resolvedReason } : {}) }];
}

export interface AlertHistory {
  /** Every stored alert, oldest first, as the changes that made it (RunEngine.recall). */
  changes: AlertChange[];
  /** The opens of those still open, oldest first (RunEngine.restoreOpen). */
  open: AlertChange[];
}

/** A run's stored alerts, for an engine made after they were. */
export async function alertHistory(repo: Pick<AlertsRepo, 'list'>, runUid: string): Promise<AlertHistory> {
  const rows = (await repo.list({ runUid, limit: MAX_HISTORY })).sort((a, b) => a.id - b.id);
  const changes: AlertChange[] = [];
  const open: AlertChange[] = [];
  for (const row of rows) {
    const cs = changesOf(row);
    changes.push(...cs);
    if (cs.length === 1 && cs[0]) open.push(cs[0]);
  }
  return { changes, open };
}

/**
 * Each rule's worst severity in a stored verdict (the run's `diagnoses`): an alert row keeps
 * only its current one, and a verdict recalled from rows alone would step down after a restart.
 */
export function peaksOf(verdictJson: string): Map<string, Severity> {
  const peaks = new Map<string, Severity>();
  let verdict: unknown;
  try {
    verdict = JSON.parse(verdictJson);
  } catch {
    return peaks;
  }
  if (!Array.isArray(verdict)) return peaks;
  for (const d of verdict as Array<Partial<Diagnosis>>) {
    for (const s of Array.isArray(d.symptoms) ? d.symptoms : []) {
      const was = peaks.get(s.rule);
      if (s.severity in SEVERITY_RANK && (!was || SEVERITY_RANK[s.severity] > SEVERITY_RANK[was])) peaks.set(s.rule, s.severity);
    }
  }
  return peaks;
}

/** `changes` with each rule's first one raised to its peak (a copy; the changes themselves are kept). */
export function withPeaks(changes: readonly AlertChange[], peaks: ReadonlyMap<string, Severity>): AlertChange[] {
  const seen = new Set<string>();
  return changes.map((c) => {
    if (seen.has(c.rule)) return c;
    seen.add(c.rule);
    const peak = peaks.get(c.rule);
    return peak && SEVERITY_RANK[peak] > SEVERITY_RANK[c.severity] ? { ...c, severity: peak } : c;
  });
}
