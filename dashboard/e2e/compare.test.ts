import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartData, openRun, screenshot, startEnv, streamSteps, trainingStep, until, type Env } from './helpers.js';

describe('compare', () => {
  let env: Env;
  const LRS = [0.1, 1e-3, 1e-6];
  beforeAll(async () => {
    env = await startEnv();
    for (const [i, lr] of LRS.entries()) {
      const c = await openRun(env.server, { id: `sweep-${i}`, name: `sweep lr=${lr}`, config: { lr, batchSize: 64, optimizer: 'sgd' } });
      await streamSteps(c, 0, 200 + i * 50, (s) => trainingStep(s, { lr, seed: i }));
      await c.end('completed');
      c.close();
    }
  });
  afterAll(async () => env?.close());

  it('overlays a series of the selected runs and lists the config values that differ', async () => {
    const { page, server } = env;
    await page.goto(`${server.url}/`);
    for (const i of [0, 1, 2]) await page.locator(`tr[data-run="sweep-${i}"] input[type=checkbox]`).check();
    await page.getByRole('button', { name: /Compare \(3\)/ }).click();
    await page.waitForURL(/\/compare\?runs=/);
    const d = await until(async () => {
      const x = await chartData(page, 'loss');
      return x && x.filter((ds) => ds.role === 'line' && ds.data.length > 0).length === 3 ? x : null;
    }, 10_000, 'three loss lines');
    const lines = d.filter((ds) => ds.role === 'line');
    expect(lines.map((l) => l.label).sort()).toEqual(LRS.map((lr) => `sweep lr=${lr}`).sort());
    expect(lines.map((l) => l.data.length).sort()).toEqual([200, 250, 300]);
    expect(await page.locator('table.diff tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key')))).toEqual(['lr']);
    expect(await page.locator('table.diff tbody tr[data-key="lr"] td').allTextContents()).toEqual(['0.1', '0.001', '1.00e-6']);

    await page.locator('aside label', { hasText: /^\s*lr$/ }).locator('input').check();
    const lr = await until(async () => {
      const x = await chartData(page, 'lr');
      return x && x.filter((ds) => ds.role === 'line' && ds.data.length > 0).length === 3 ? x : null;
    }, 10_000, 'lr chart');
    expect(lr.find((l) => l.label === `sweep lr=${1e-6}`)?.data[0]?.y).toBe(1e-6);
    await screenshot(page, 'compare');
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForTimeout(300);
    await screenshot(page, 'compare-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });
});
