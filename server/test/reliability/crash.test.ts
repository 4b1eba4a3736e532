/**
 * Short crash test (CI): clients stream while the server process is SIGKILLed at random moments
 * and restarted on the same data dir; every acked value is then present once with exactly the
 * value sent. bench/crash.ts runs the full version (16 clients, 20 kills).
 */
import { expect, it } from 'vitest';
import { runCrashScenario } from './crash-harness.js';

it('loses, duplicates and changes nothing acked across SIGKILLs', async () => {
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
  const f = await runCrashScenario({ clients: 4, kills: 2, minUpMs: 400, maxUpMs: 1500, layers: 2, stepsPerSecond: 400, seed, log: () => undefined });
  console.log(`crash test (seed ${seed}): ${JSON.stringify(f)}`);
  expect(f.stuckClients).toBe(0);
  expect(f.rejected).toBe(0);
  expect(f.acked).toBeGreaterThan(10_000);
  expect(f.ackedBeforeKills).toBeGreaterThan(0);
  expect(f.histograms.acked).toBeGreaterThan(0);
  expect(f.alerts.total).toBeGreaterThan(0);
  expect({ lost: f.lost, duplicated: f.duplicated, changed: f.changed, alertsDuplicated: f.alerts.duplicated }).toEqual({ lost: 0, duplicated: 0, changed: 0, alertsDuplicated: 0 });
  expect(f.found).toBe(f.acked);
}, 180_000);
