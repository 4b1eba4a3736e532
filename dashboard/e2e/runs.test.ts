import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartData, LAYERS, lineOf, openRun, screenshot, startEnv, streamSteps, trainingStep, until, type Env } from './helpers.js';

const XSS_RUN = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>run';
const XSS_LAYER = '<b onmouseover="window.__xss=3">fc</b><script>window.__xss=4</script>';

describe('runs list, layers and untrusted names', () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv();
    const done = await openRun(env.server, { id: 'done-1', name: 'baseline mlp', config: { lr: 1e-3, batchSize: 64 }, tags: ['baseline'] });
    await streamSteps(done, 0, 300, (s) => trainingStep(s));
    for (let s = 0; s < 300; s += 30) {
      done.hist({ step: s, layer: 'fc1', of: 'param', edges: [-0.2, -0.1, 0, 0.1, 0.2], counts: [5 + s / 30, 40, 38, 12] });
      done.hist({ step: s, layer: 'fc1', of: 'update', edges: [-2e-4, -1e-4, 0, 1e-4, 2e-4], counts: [3, 30, 33, 4] });
    }
    await done.end('completed');
    done.close();
    const bad = await openRun(env.server, { id: 'xss-1', name: XSS_RUN, layers: [{ name: XSS_LAYER, kind: 'Linear', params: 10, fanIn: 2, fanOut: 5 }], tags: ['<i>tag</i>'] });
    await streamSteps(bad, 0, 40, (s) => trainingStep(s, { layers: [{ name: XSS_LAYER, kind: 'Linear', params: 10 }] }));
    bad.close();
  });
  afterAll(async () => env?.close());

  it('lists runs with status, last step and open alerts, filtered by status and search', async () => {
    const { page, server } = env;
    await page.goto(`${server.url}/`);
    await page.locator('tr[data-run="done-1"]').waitFor();
    const row = page.locator('tr[data-run="done-1"]');
    expect(await row.locator('.badge.st-completed').textContent()).toContain('completed');
    expect(await row.locator('td.num').textContent()).toBe('299');
    // The model of LAYERS makes the static rules raise warnings/infos; they closed when the run
    // completed, so the row counts no open alert.
    const alerts = await (await fetch(`${server.url}/api/v1/runs/done-1/alerts?limit=500`)).json() as { alerts: Array<{ status: string; resolvedReason?: string }> };
    expect(alerts.alerts.length).toBeGreaterThan(0);
    expect(alerts.alerts.every((a) => a.status === 'resolved' && a.resolvedReason === 'ended with the run')).toBe(true);
    expect((await row.locator('.counts').textContent())?.trim()).toBe('—');
    expect(await page.locator('tbody tr[data-run]').count()).toBe(2);
    await screenshot(page, 'runs-list');

    await page.getByRole('button', { name: 'completed' }).click();
    await until(async () => (await page.locator('tbody tr[data-run]').count()) === 1, 5000, 'status filter');
    expect(page.url()).toContain('status=completed');
    await page.getByRole('button', { name: 'completed' }).click();
    await page.getByLabel('Search runs').fill('baseline');
    await until(async () => (await page.locator('tbody tr[data-run]').count()) === 1, 5000, 'search');
    expect(await page.locator('tbody tr[data-run]').getAttribute('data-run')).toBe('done-1');
  });

  it('shows a layer in forward order with mean ± std, ratio and histograms', async () => {
    const { page, server } = env;
    await page.goto(`${server.url}/runs/done-1/layers`);
    await page.locator('aside li').first().waitFor();
    expect(await page.locator('aside .lname').allTextContents()).toEqual(LAYERS.map((l) => l.name));
    const band = await until(async () => {
      const d = await chartData(page, 'Parameters: mean ± std');
      return d && lineOf(d, 'param mean ± std')?.data.length === 300 ? d : null;
    }, 10_000, 'mean ± std chart');
    // The band is drawn as an envelope around the mean.
    expect(band.filter((d) => d.role === 'lo' || d.role === 'hi')).toHaveLength(2);
    const ratio = await until(async () => lineOf(await chartData(page, 'Update:param ratio (log10)'), 'update ratio'), 5000, 'ratio');
    expect(ratio.data.every((p) => p.y !== null && p.y > -4 && p.y < -2)).toBe(true);
    const hist = await until(async () => chartData(page, 'latest param histogram'), 5000, 'histogram');
    expect(hist[0]?.values).toEqual([14, 40, 38, 12]);
    expect(await page.locator('canvas[data-hists]').first().getAttribute('data-hists')).toBe('10');
    await screenshot(page, 'layers');
  });

  it('renders HTML and script tags in run, tag and layer names as plain text', async () => {
    const { page, server } = env;
    await page.goto(`${server.url}/`);
    await page.locator('tr[data-run="xss-1"]').waitFor();
    expect(await page.locator('tr[data-run="xss-1"] a.name').textContent()).toBe(XSS_RUN);
    await page.goto(`${server.url}/runs/xss-1/layers`);
    await page.locator('aside .lname').first().waitFor();
    expect(await page.locator('aside .lname').first().textContent()).toBe(XSS_LAYER);
    expect(await page.locator('h2.title').textContent()).toContain(XSS_RUN);
    await page.locator('aside .lname').first().hover();
    await until(async () => lineOf(await chartData(page, 'Mean magnitude'), 'param')?.data.length === 40, 10_000, 'layer data');
    await page.goto(`${server.url}/runs/xss-1`);
    await until(async () => lineOf(await chartData(page, 'Update:param ratio (log10)'), XSS_LAYER)?.data.length === 40, 10_000, 'ratio by layer name');
    const injected = await page.evaluate(() => ({
      xss: (window as unknown as { __xss?: number }).__xss,
      imgs: document.querySelectorAll('img').length,
      bolds: document.querySelectorAll('b').length,
      scripts: [...document.querySelectorAll('script')].filter((s) => !s.src).length,
    }));
    expect(injected).toEqual({ xss: undefined, imgs: 0, bolds: 0, scripts: 0 });
    await screenshot(page, 'xss-overview');
    expect(env.errors.filter((e) => !e.includes('status of 500'))).toEqual([]);
  });
});
