import type { IngestClient } from '@gradwatch/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartData, lineOf, openRun, startEnv, trainingStep, until, type Env } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * Streams steps from `from`, one every few ms, until stopped (or `max` steps); resolves with the
 * next step. The cap keeps every run under the 600 buckets a chart asks for, so each step is its
 * own point on the chart.
 */
const MAX_PER_ROUND = 140;
function pump(c: IngestClient, from: number, max = MAX_PER_ROUND): { stop: () => Promise<number> } {
  let next = from;
  let on = true;
  const done = (async () => {
    while (on && next < from + max) {
      c.step(trainingStep(next++));
      await sleep(6);
    }
    await c.flush();
    return next;
  })();
  return {
    stop: async () => {
      on = false;
      return done;
    },
  };
}

/** The loss line's steps once it has reached `last`. */
async function lossSteps(env: Env, title: string, label: string, last: number): Promise<number[]> {
  return until(async () => {
    const xs = lineOf(await chartData(env.page, title), label)?.data.map((p) => p.x);
    return xs && xs[xs.length - 1] === last ? xs : null;
  }, 15_000, `${label} up to step ${last}`);
}

// The page loads a run's series over REST and follows it over the live socket: a point logged
// between the two must still reach the chart, without a reload.
describe('points logged while the page opens', () => {
  let env: Env;
  const runs: IngestClient[] = [];
  beforeAll(async () => {
    env = await startEnv();
    for (const id of ['gap-a', 'gap-b']) {
      const c = await openRun(env.server, { id, name: id });
      for (let s = 0; s < 5; s++) c.step(trainingStep(s));
      await c.flush();
      runs.push(c);
    }
  });
  afterAll(async () => {
    for (const c of runs) c.close();
    await env?.close();
  });

  it('reach the run page’s chart, every step once', async () => {
    const [a] = runs;
    if (!a) throw new Error('no run');
    for (let round = 0; round < 2; round++) {
      const from = (await (await fetch(`${env.server.url}/api/v1/runs/gap-a`)).json() as { lastStep: number }).lastStep + 1;
      const p = pump(a, from);
      await env.page.goto(`${env.server.url}/runs/gap-a`);
      await until(async () => (lineOf(await chartData(env.page, 'Loss'), 'loss')?.data.length ?? 0) > 0, 10_000, 'first points');
      await sleep(300);
      const next = await p.stop();
      expect(await lossSteps(env, 'Loss', 'loss', next - 1)).toEqual(range(next));
    }
  });

  it('reach every run overlaid on the compare page', async () => {
    const pumps = await Promise.all(runs.map(async (c, i) => {
      const id = ['gap-a', 'gap-b'][i];
      const from = (await (await fetch(`${env.server.url}/api/v1/runs/${id}`)).json() as { lastStep: number }).lastStep + 1;
      return pump(c, from);
    }));
    await env.page.goto(`${env.server.url}/compare?runs=gap-a,gap-b&series=loss`);
    await until(async () => (await chartData(env.page, 'loss'))?.filter((d) => d.role === 'line' && d.data.length > 0).length === 2, 10_000, 'two lines');
    await sleep(300);
    const ends = await Promise.all(pumps.map((p) => p.stop()));
    expect(await lossSteps(env, 'loss', 'gap-a', (ends[0] ?? 0) - 1)).toEqual(range(ends[0] ?? 0));
    expect(await lossSteps(env, 'loss', 'gap-b', (ends[1] ?? 0) - 1)).toEqual(range(ends[1] ?? 0));
  });
});
