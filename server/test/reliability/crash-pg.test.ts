/**
 * The crash test on PostgreSQL (issue 14): two servers share one fresh database, jobs are spread
 * over both, and each kill SIGKILLs one of them; a job whose server dies moves to the other.
 * Every acked value is then present once with exactly the value sent. Runs when
 * GRADWATCH_TEST_PG_URL names a server where it may CREATE DATABASE (CI sets it).
 */
import { describe, expect, it } from 'vitest';
import { expectNothingLost } from './crash-expect.js';
import { runCrashScenario } from './crash-harness.js';

const PG_URL = process.env.GRADWATCH_TEST_PG_URL;

describe.skipIf(!PG_URL)('crash on PostgreSQL, two servers', () => {
  it('loses, duplicates and changes nothing acked across SIGKILLs of either server', async () => {
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
    const f = await runCrashScenario({ clients: 4, kills: 3, minUpMs: 500, maxUpMs: 1500, layers: 2, stepsPerSecond: 400, seed, databaseUrl: PG_URL, servers: 2, log: (l) => l.startsWith('client ') && console.log(`stuck ${l}`) });
    console.log(`crash test on PostgreSQL (seed ${seed}): ${JSON.stringify(f)}`);
    expectNothingLost(f);
    expect(f.nan.acked).toBeGreaterThan(0);
    expect(f.nan.kept).toBe(f.nan.acked);
  }, 180_000);
});
