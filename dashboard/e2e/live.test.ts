import type { IngestClient } from '@gradwatch/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartData, lineOf, openRun, screenshot, startEnv, streamSteps, trainingStep, until, type Env } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('live run', () => {
  let env: Env;
  let run: IngestClient;
  const queries: string[] = [];
  const api: string[] = [];

  beforeAll(async () => {
    env = await startEnv();
    env.page.on('request', (r) => {
      if (r.url().includes('/api/')) api.push(r.url());
      if (r.url().includes('/query?')) queries.push(r.url());
    });
    run = await openRun(env.server, { id: 'live-1', name: 'live mlp', config: { lr: 1e-3, batchSize: 32 } });
    await streamSteps(run, 0, 50, (s) => trainingStep(s));
  });
  afterAll(async () => {
    run?.close();
    await env?.close();
  });

  it('grows the loss chart while the run streams, without refetching', async () => {
    const { page, server } = env;
    await page.goto(`${server.url}/runs/live-1`);
    await until(async () => lineOf(await chartData(page, 'Loss'), 'loss')?.data.length === 50, 10_000, '50 points');
    // Settle, then make sure the page is quiet: no request loop behind the charts.
    await sleep(1500);
    const before = api.length;
    await sleep(1500);
    expect(api.length - before).toBeLessThanOrEqual(1);
    const queriesBefore = queries.length;
    const seen: number[] = [];
    for (let b = 0; b < 5; b++) {
      await streamSteps(run, 50 + b * 20, 70 + b * 20, (s) => trainingStep(s));
      seen.push(await until(async () => {
        const n = lineOf(await chartData(page, 'Loss'), 'loss')?.data.length ?? 0;
        return n >= 70 + b * 20 ? n : 0;
      }, 5000, `batch ${b}`));
    }
    expect(seen).toEqual([70, 90, 110, 130, 150]);
    const xs = lineOf(await chartData(page, 'Loss'), 'loss')?.data.map((p) => p.x) ?? [];
    expect(xs.slice(-3)).toEqual([147, 148, 149]);
    expect(queries.length).toBe(queriesBefore);
    await screenshot(page, 'overview-live');
  });

  it('marks NaN and ±Infinity at their steps, live and after a reload, never as 0', async () => {
    const { page } = env;
    const special: Record<number, 'NaN' | 'Infinity' | '-Infinity'> = { 173: 'NaN', 180: 'Infinity', 185: '-Infinity' };
    await streamSteps(run, 150, 200, (s) => trainingStep(s, special[s] ? { loss: special[s] } : {}));
    const check = async () => {
      const d = await chartData(page, 'Loss');
      const m = (label: string) => d?.find((x) => x.role === 'marker' && x.label === label)?.data.map((p) => p.x);
      return m('NaN')?.includes(173) && m('+Infinity')?.includes(180) && m('-Infinity')?.includes(185) ? d : null;
    };
    const live = await until(check, 10_000, 'markers (live)');
    const line = lineOf(live, 'loss');
    for (const s of [173, 180, 185]) expect(line?.data.find((p) => p.x === s)?.y).toBeNull();
    expect(line?.data.some((p) => p.y === 0)).toBe(false);
    await page.reload();
    const fetched = await until(check, 10_000, 'markers (fetched)');
    expect(fetched.find((d) => d.label === 'NaN')?.data).toEqual([{ x: 173, y: 0.5, kind: 'nan', count: 1 }]);
    await screenshot(page, 'overview-nan');
  });

  it('shows a new alert live as a toast and in the list; selecting it opens its chart with the range highlighted', async () => {
    const { page, server } = env;
    await page.goto(`${server.url}/alerts`);
    await page.getByText('Alerts').first().waitFor();
    const nan = await openRun(server, { id: 'nan-1', name: 'lr too high', config: { lr: 0.5 } });
    await streamSteps(nan, 0, 60, (s) => trainingStep(s, { lr: 0.5 }));
    await streamSteps(nan, 60, 80, (s) => trainingStep(s, { lr: 0.5, ...(s === 64 ? { loss: 'NaN' as const } : {}) }));
    // The rule engine raises nan.detected as a critical alert; it reaches the page over the socket.
    const toast = page.locator('.toast', { hasText: 'nan.detected' }).filter({ hasText: 'nan-1' });
    await toast.waitFor({ timeout: 15_000 });
    const row = page.locator('[data-run-group="nan-1"] tr[data-alert]', { hasText: 'nan.detected' });
    await row.waitFor({ timeout: 5000 });
    expect(await row.locator('.badge').first().textContent()).toBe('critical');
    await screenshot(page, 'alerts-live');
    await row.locator('a').click();
    await page.waitForURL(/\/runs\/nan-1\/alerts\/\d+$/);
    const d = await until(async () => {
      const x = await chartData(page, 'loss');
      return x?.some((ds) => ds.role === 'marker') ? x : null;
    }, 10_000, 'alert chart');
    const hl = d.find((x) => x.role === 'highlight');
    expect(hl?.data.map((p) => p.x)).toEqual([64, 64, 64, 64]);
    expect(d.find((x) => x.label === 'NaN')?.data[0]?.x).toBe(64);
    expect(await page.locator('.ev').textContent()).toContain('likelyCause');
    await screenshot(page, 'alert-detail');
    nan.close();
  });

  it('puts epoch or wall-clock time on the x axis', async () => {
    const { page, server } = env;
    await page.goto(`${server.url}/runs/live-1`);
    await until(async () => (lineOf(await chartData(page, 'Loss'), 'loss')?.data.length ?? 0) >= 200, 10_000, 'loss');
    await page.getByLabel('x axis').selectOption('epoch');
    // trainingStep() puts 100 steps in an epoch: step 150 is halfway through epoch 1.
    const ep = await until(async () => {
      const d = lineOf(await chartData(page, 'Loss'), 'loss')?.data;
      return d && d[0]?.x === 0 && d.find((p) => Math.abs(p.x - 1.5) < 1e-9) ? d : null;
    }, 10_000, 'epoch axis');
    expect(Math.max(...ep.map((p) => p.x))).toBeLessThan(2);
    await page.getByLabel('x axis').selectOption('time');
    const t = await until(async () => {
      const d = lineOf(await chartData(page, 'Loss'), 'loss')?.data;
      return d && d[0]?.x === 1_780_000_000_000 ? d : null;
    }, 10_000, 'time axis');
    // 0.05 s a step, in ms.
    expect(t[100]?.x).toBeCloseTo(1_780_000_005_000, 0);
    await page.getByLabel('x axis').selectOption('step');
  });
});
