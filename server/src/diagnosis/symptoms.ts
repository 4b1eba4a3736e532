/**
 * The symptoms of a run: one entry per rule that has alerted, built from the engine's alert
 * changes. Bounded by the number of rules (an alert's layers by the model's layers); an
 * episode that resolves keeps its entry, because a verdict is about the whole run.
 */
import type { Severity } from '@gradwatch/shared';
import type { AlertChange } from '../rules/types.js';

export const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

export interface Symptom {
  rule: string;
  severity: Severity;
  firstStep: number;
  lastStep: number;
  open: boolean;
  layers: string[];
  /** Evidence of the first change (what the rule saw when it opened). */
  first: Record<string, unknown>;
  /** Evidence of the latest change. */
  latest: Record<string, unknown>;
}

export class SymptomLog {
  readonly byRule = new Map<string, Symptom>();
  /** Bumped on every change, so a verdict can be cached until the next one. */
  version = 0;

  observe(c: AlertChange): void {
    this.version++;
    const s = this.byRule.get(c.rule);
    if (!s) {
      if (c.action === 'resolve') return;
      this.byRule.set(c.rule, {
        rule: c.rule, severity: c.severity, firstStep: c.firstStep, lastStep: c.lastStep ?? c.step,
        open: true, layers: [...(c.layers ?? [])], first: c.evidence, latest: c.evidence,
      });
      return;
    }
    if (c.action === 'resolve') {
      s.open = false;
      s.lastStep = Math.max(s.lastStep, c.lastStep ?? s.lastStep);
      return;
    }
    if (c.action === 'open') {
      // A new episode of the same rule: the verdict keeps the earliest start.
      s.open = true;
    }
    if (SEVERITY_RANK[c.severity] > SEVERITY_RANK[s.severity]) s.severity = c.severity;
    s.lastStep = Math.max(s.lastStep, c.lastStep ?? c.step);
    s.latest = c.evidence;
    if (c.layers) for (const l of c.layers) if (!s.layers.includes(l)) s.layers.push(l);
  }
}
