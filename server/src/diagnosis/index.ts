/**
 * The diagnosis layer: turns a run's alerts into one ranked verdict of root causes
 * (docs/diagnosis.md). Pure: fed the engine's alert changes, state bounded by the number of
 * rules, the verdict recomputed only after a change.
 */
import type { Diagnosis } from '@gradwatch/shared';
import type { AlertChange } from '../rules/types.js';
import { diagnose } from './diagnose.js';
import type { RunFacts } from './advice.js';
import { SymptomLog } from './symptoms.js';

export type { RunFacts } from './advice.js';
export { diagnose } from './diagnose.js';
export { TITLES, PRODUCES, linksOf } from './causes.js';

export class Diagnoser {
  private readonly log = new SymptomLog();
  private cached: { version: number; ended: boolean; out: Diagnosis[] } | undefined;

  observe(c: AlertChange): void {
    this.log.observe(c);
  }

  diagnoses(facts: RunFacts): Diagnosis[] {
    const c = this.cached;
    if (c && c.version === this.log.version && c.ended === facts.ended) return c.out;
    const out = diagnose(this.log.byRule.values(), facts);
    this.cached = { version: this.log.version, ended: facts.ended, out };
    return out;
  }
}
