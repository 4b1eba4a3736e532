import { expect } from 'vitest';
import type { CrashFigures } from './crash-harness.js';

/** What every crash test asserts, whatever the backend: nothing acked lost, duplicated or changed, and the scenario really ran. */
export function expectNothingLost(f: CrashFigures): void {
  expect(f.stuckClients).toBe(0);
  expect(f.rejected).toBe(0);
  expect(f.acked).toBeGreaterThan(10_000);
  expect(f.ackedBeforeKills).toBeGreaterThan(0);
  expect(f.histograms.acked).toBeGreaterThan(0);
  expect(f.alerts.total).toBeGreaterThan(0);
  expect({ lost: f.lost, duplicated: f.duplicated, changed: f.changed, alertsDuplicated: f.alerts.duplicated }).toEqual({ lost: 0, duplicated: 0, changed: 0, alertsDuplicated: 0 });
  expect(f.found).toBe(f.acked);
}
