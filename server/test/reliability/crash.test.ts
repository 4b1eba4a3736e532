/**
 * Short crash test (CI): clients stream while the server process is SIGKILLed at random moments
 * and restarted on the same data dir; every acked value is then present once with exactly the
 * value sent. bench/crash.ts runs the full version (16 clients, 20 kills).
 */
import { it } from 'vitest';
import { expectNothingLost } from './crash-expect.js';
import { runCrashScenario } from './crash-harness.js';

it('loses, duplicates and changes nothing acked across SIGKILLs', async () => {
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
  const f = await runCrashScenario({ clients: 4, kills: 2, minUpMs: 400, maxUpMs: 1500, layers: 2, stepsPerSecond: 400, seed, log: () => undefined });
  console.log(`crash test (seed ${seed}): ${JSON.stringify(f)}`);
  expectNothingLost(f);
}, 180_000);
