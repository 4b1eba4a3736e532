/**
 * The crash test on PostgreSQL (issue 14): two servers share one fresh database, jobs are spread
 * over both, and each kill SIGKILLs one of them; a job whose server dies moves to the other.
 * Every acked value is then present once with exactly the value sent. Runs when
 * GRADWATCH_TEST_PG_URL names a server where it may CREATE DATABASE (CI sets it).
 */
import { describe, expect, it } from 'vitest';
import { runCrashScenario } from './crash-harness.js';

const PG_URL = process.env.GRADWATCH_TEST_PG_URL;

describe.skipIf(!PG_URL)('crash on PostgreSQL, two servers', () => {
  it('loses, duplicates and changes nothing acked across SIGKILLs of either server', async () => {
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
    const f = await runCrashScenario({ clients: 4, kills: 3, minUpMs: 500, maxUpMs: 1500, layers: 2, stepsPerSecond: 400, seed, databaseUrl: PG_URL, servers: 2, log: (l) => l.startsWith('client ') && console.log(`stuck ${l}`) });
    console.log(`crash test on PostgreSQL (seed ${seed}): ${JSON.stringify(f)}`);
    expect(f.stuckClients).toBe(0);
    expect(f.rejected).toBe(0);
    expect(f.acked).toBeGreaterThan(10_000);
    expect(f.ackedBeforeKills).toBeGreaterThan(0);
    expect(f.histograms.acked).toBeGreaterThan(0);
    expect(f.alerts.total).toBeGreaterThan(0);
    expect({ lost: f.lost, duplicated: f.duplicated, changed: f.changed, alertsDuplicated: f.alerts.duplicated }).toEqual({ lost: 0, duplicated: 0, changed: 0, alertsDuplicated: 0 });
    expect(f.found).toBe(f.acked);
    expect(f.nan.acked).toBeGreaterThan(0);
    expect(f.nan.kept).toBe(f.nan.acked);
  }, 180_000);
});
