import type { StepItem } from '@gradwatch/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartAxes, chartData, lineOf, openRun, screenshot, startEnv, streamSteps, trainingStep, until, type Env } from './helpers.js';

const LAST = 200;

/** Loss healthy until step 150, then exploding to 1e304; layer stats every third step; at the end a NaN gradient in fc2. */
function step(s: number): StepItem {
  const blowUp = s >= 150 ? { loss: 10 ** (((s - 150) / (LAST - 1 - 150)) * 304) } : {};
  const item = trainingStep(s, blowUp);
  if (s % 3 !== 0) delete item.layers;
  return item;
}

describe('run page: axes, scales, band, optimizer and alert layers', () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv();
    const c = await openRun(env.server, { id: 'boom-1', name: 'exploding loss', config: { lr: 0.05, batchSize: 32 } });
    await streamSteps(c, 0, LAST, step);
    // Layer stats only on every third step: force one on the last step, with the NaN gradient.
    const last = trainingStep(LAST, { loss: 1e304 });
    if (last.layers?.fc2?.grad) last.layers.fc2.grad.nonFinite = 12;
    await streamSteps(c, LAST, LAST + 1, () => last);
    await c.end('failed');
    c.close();
  });
  afterAll(async () => env?.close());

  it('puts an exploding loss on a log axis by itself, and lets the user switch back', async () => {
    const { page, server } = env;
    await page.goto(`${server.url}/runs/boom-1`);
    await until(async () => lineOf(await chartData(page, 'Loss'), 'loss')?.data.length === LAST + 1, 10_000, 'loss');
    expect((await chartAxes(page, 'Loss'))?.yType).toBe('logarithmic');
    expect(await page.locator('section', { hasText: 'Loss' }).getByText('(auto)').first().isVisible()).toBe(true);
    // A constant learning rate keeps a linear axis.
    expect((await chartAxes(page, 'Learning rate'))?.yType).toBe('linear');
    await page.getByLabel('Loss log scale').uncheck();
    await until(async () => (await chartAxes(page, 'Loss'))?.yType === 'linear', 5000, 'linear after the user switches');
    await page.getByLabel('Loss log scale').check();
  });

  it('ends every chart’s x axis at the run’s last step, even where a series stops earlier', async () => {
    const { page } = env;
    const titles = ['Loss', 'Update:param ratio (log10)', 'Standard deviation (log10)', 'Learning rate'];
    const axes = await until(async () => {
      const a = await Promise.all(titles.map((t) => chartAxes(page, t)));
      return a.every((x) => x !== null) ? a : null;
    }, 10_000, 'axes');
    // Layer stats came every third step (198 was the last before the final step); the axes agree anyway.
    expect(axes.map((a) => a?.xMax)).toEqual(titles.map(() => LAST));
  });

  it('shades the healthy band of activation std that its caption gives', async () => {
    const std = await chartAxes(env.page, 'Standard deviation (log10)');
    expect(std?.band?.lo).toBeCloseTo(Math.log10(0.5), 6);
    expect(std?.band?.hi).toBeCloseTo(Math.log10(2), 6);
    expect(await env.page.locator('.note', { hasText: '0.5–2' }).count()).toBe(1);
  });

  it('shows the optimizer as a key/value table and steps logged that agree with the last step', async () => {
    const { page } = env;
    const opt = page.locator('tr[data-row="Optimizer"] table');
    await opt.waitFor();
    expect(await opt.locator('th').allTextContents()).toEqual(['type', 'lr']);
    expect(await opt.locator('td').allTextContents()).toEqual(['Adam', '0.05']);
    expect(await page.locator('tr[data-row="Last step"] td').textContent()).toBe(String(LAST));
    expect(await page.locator('tr[data-row="Steps logged"] td').textContent()).toBe(String(LAST + 1));
    await screenshot(page, 'run-exploding-loss');
  });

  it('names the layer of a NaN alert in the alerts table, from its evidence', async () => {
    const { page, server } = env;
    await page.goto(`${server.url}/alerts`);
    // The run failed, and its alerts closed with it.
    await page.getByLabel('Status').selectOption('resolved');
    const row = page.locator('[data-run-group="boom-1"] tr[data-alert]', { hasText: 'nan.detected' });
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator('td.layer').textContent()).toBe('fc2');
    await screenshot(page, 'alerts-layer');
    await page.goto(`${server.url}/runs/boom-1/layers?layer=fc2`);
    await until(async () => (lineOf(await chartData(page, 'Parameters: mean ± std'), 'param mean ± std')?.data.length ?? 0) > 0, 10_000, 'layer charts');
    expect((await chartAxes(page, 'Mean magnitude'))?.xMax).toBe(LAST);
    await screenshot(page, 'layers-fc2');
  });
});
