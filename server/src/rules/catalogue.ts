/**
 * The rule catalogue as data (served by GET /api/v1/rules) and validation of a project's
 * per-rule settings (PUT /api/v1/projects/:id/rules).
 */
import type { Severity } from '@gradwatch/shared';
import { RULE_DEFS } from './registry.js';
import type { RuleSettings } from './types.js';

export interface RuleInfo {
  id: string;
  section: string;
  /** Default severity; some rules report a lower or higher one per case (see condition). */
  severity: Severity;
  description: string;
  condition: string;
  thresholds: Record<string, number>;
  requires: string[];
  advice: string;
  /** Evaluations without the condition before an open alert resolves. */
  clearAfter: number;
}

export const RULE_CATALOGUE: readonly RuleInfo[] = RULE_DEFS.map((d) => ({
  id: d.id,
  section: d.section,
  severity: d.severity,
  description: d.condition,
  condition: d.condition,
  thresholds: { ...d.thresholds },
  requires: [...d.requires],
  advice: d.advice,
  clearAfter: d.clearAfter,
}));

export const RULE_IDS: readonly string[] = RULE_DEFS.map((d) => d.id);

export type RuleSettingsMap = Record<string, Partial<RuleSettings>>;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks `{ [ruleId]: { enabled?: boolean, stop?: boolean, thresholds?: { [name]: number } } }`:
 * known rule ids, known threshold names, finite numbers, no other keys. Returns a clean copy.
 */
export function validateRuleSettings(input: unknown): { ok: true; value: RuleSettingsMap } | { ok: false; error: string } {
  if (!isObj(input)) return { ok: false, error: 'rule settings must be an object keyed by rule id' };
  const byId = new Map(RULE_DEFS.map((d) => [d.id, d]));
  const value: RuleSettingsMap = {};
  for (const [id, raw] of Object.entries(input)) {
    const def = byId.get(id);
    if (!def) return { ok: false, error: `unknown rule id "${id}"` };
    if (!isObj(raw)) return { ok: false, error: `${id}: settings must be an object` };
    const out: Partial<RuleSettings> = {};
    for (const [k, v] of Object.entries(raw)) {
      if (k === 'enabled' || k === 'stop') {
        if (typeof v !== 'boolean') return { ok: false, error: `${id}.${k} must be a boolean` };
        out[k] = v;
      } else if (k === 'thresholds') {
        if (!isObj(v)) return { ok: false, error: `${id}.thresholds must be an object` };
        const th: Record<string, number> = {};
        for (const [name, n] of Object.entries(v)) {
          if (!(name in def.thresholds)) {
            const known = Object.keys(def.thresholds);
            return { ok: false, error: `${id}: unknown threshold "${name}" (known: ${known.join(', ') || 'none'})` };
          }
          if (typeof n !== 'number' || !Number.isFinite(n)) return { ok: false, error: `${id}.thresholds.${name} must be a finite number` };
          th[name] = n;
        }
        out.thresholds = th;
      } else {
        return { ok: false, error: `${id}: unknown setting "${k}" (allowed: enabled, stop, thresholds)` };
      }
    }
    value[id] = out;
  }
  return { ok: true, value };
}
