/// <reference lib="dom" />
/**
 * Dashboard benchmark, measured in headless chromium with performance marks:
 *  1. a run with 200 series x 100,000 steps: time until the overview (and the layers page) has
 *     drawn its charts, from navigation start; plus the browser-side time of one query of all
 *     200 series;
 *  2. 20 runs overlaid on the compare page while all 20 stream live: frame rate, long tasks,
 *     chart redraw cost and redraws per second, and the latency of a click (log-scale toggle).
 * Prints figures; never fails on timing.
 *
 *   npx tsx bench/dashboard.ts [--smoke] [--data-dir DIR]   (needs a build: npm run build)
 *
 * --data-dir reuses a data directory of an earlier run (its runs are not ingested again);
 * BENCH_TRACE=1 prints the overview's request and redraw timeline.
 */
import { parseArgs } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { IngestClient } from '@gradwatch/client';
import type { LayerInfo, StepItem } from '@gradwatch/shared';
import { percentile, startServerProcess } from './server-process.js';

const { values: args } = parseArgs({ options: { smoke: { type: 'boolean', default: false }, 'data-dir': { type: 'string' } } });
const SMOKE = args.smoke;
const BIG_STEPS = SMOKE ? 5_000 : 100_000;
const OVERLAY_RUNS = SMOKE ? 5 : 20;
const OVERLAY_STEPS = SMOKE ? 500 : 5_000;
const LIVE_SECONDS = SMOKE ? 3 : 10;

// 9 layers x 4 stats x 5 fields = 180, + 9 derived update ratios, + 11 scalars = 200 series.
const LAYERS: LayerInfo[] = Array.from({ length: 9 }, (_, i) => ({ name: `block${i}.fc`, kind: 'Linear', activation: 'relu', params: 4096, fanIn: 64, fanOut: 64 }));
const SCALARS = ['loss', 'lr', 'acc', 'sys/rss_mb', 'sys/gpu_mem_mb', 'grad_norm', 'm0', 'm1', 'm2', 'm3', 'm4'];

function step(s: number, seed = 0, layers = LAYERS): StepItem {
  const r = (k: number) => Math.sin(s * 0.013 + k * 1.7 + seed);
  const st = (k: number, scale: number) => ({ mean: r(k) * scale, std: scale * (1.2 + r(k + 1)), meanAbs: scale * (1.1 + r(k + 2)), min: -3 * scale, max: 3 * scale });
  const ls: NonNullable<StepItem['layers']> = {};
  layers.forEach((l, i) => {
    ls[l.name] = { param: st(i, 0.05), grad: st(i + 10, 1e-3), update: st(i + 20, 5e-5), act: st(i + 30, 1) };
  });
  const scalars: Record<string, number> = {};
  SCALARS.forEach((n, i) => (scalars[n] = n === 'loss' ? 2 * Math.exp(-s / 20_000) + 0.1 + 0.02 * r(i) : 1 + 0.1 * r(i)));
  return { step: s, epoch: Math.floor(s / 1000), time: 1_780_000_000 + s * 0.02, scalars, layers: ls };
}

async function ingest(wsUrl: string, id: string, steps: number, seed: number, layers = LAYERS): Promise<IngestClient> {
  const c = await connect(wsUrl, id, seed, layers);
  const have = (await (await fetch(`${wsUrl.replace('ws:', 'http:')}/api/v1/runs/${id}`)).json()) as { lastStep?: number | null };
  for (let s = (have.lastStep ?? -1) + 1; s < steps; s++) {
    c.step(step(s, seed, layers));
    if (c.unacked > 4000) await c.flush(120_000);
  }
  await c.flush(300_000);
  return c;
}

async function connect(wsUrl: string, id: string, seed: number, layers: LayerInfo[]): Promise<IngestClient> {
  const c = new IngestClient({ url: wsUrl, run: { id, project: 'bench', name: id, config: { lr: 10 ** -(seed % 6), batchSize: 64 } }, batchSize: 200, window: 16 });
  await c.connect();
  c.model({ layers });
  return c;
}

/** ms from navigation start until every named chart has drawn a line with points. */
function chartsReady(page: Page, titles: string[]): Promise<number> {
  return page.evaluate((ts) => new Promise<number>((resolve) => {
    const check = () => {
      const w = window as unknown as { Chart?: { getChart(c: HTMLCanvasElement): { data: { datasets: Array<{ gwRole?: string; data: unknown[] }> } } | undefined } };
      const ok = w.Chart && ts.every((t) => {
        const c = document.querySelector<HTMLCanvasElement>(`canvas[data-chart="${t}"]`);
        const ch = c ? w.Chart?.getChart(c) : undefined;
        return ch?.data.datasets.some((d) => d.gwRole === 'line' && d.data.length > 0);
      });
      if (ok) resolve(performance.now());
      else requestAnimationFrame(check);
    };
    check();
  }), titles);
}

const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

async function main(): Promise<void> {
  const server = await startServerProcess({}, args['data-dir']);
  let browser: Browser | undefined;
  try {
    // Inside the try: a browser that cannot start (no /usr/bin/chromium) must not leave the server running.
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    console.log(`dashboard bench${SMOKE ? ' (smoke)' : ''}: server ${server.url}`);
    let t = Date.now();
    (await ingest(server.wsUrl, 'big', BIG_STEPS, 1)).close();
    const series = (await (await fetch(`${server.url}/api/v1/runs/big/series`)).json()) as { series: Array<{ name: string }> };
    console.log(`ingested run "big": ${series.series.length} series x ${BIG_STEPS.toLocaleString('en-US')} steps in ${fmt((Date.now() - t) / 1000, 1)} s`);

    const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    // __gwPerf turns the app's performance marks on; __name is what tsx's transform of the
    // functions passed to page.evaluate expects to find (it keeps function names).
    await ctx.addInitScript({ content: 'window.__gwPerf = true; window.__name = (f) => f;' });
    const page = await ctx.newPage();
    // Warm the HTTP cache for the bundle, as a returning user has it.
    await page.goto(`${server.url}/`);
    const opens: number[] = [];
    const layerOpens: number[] = [];
    for (let i = 0; i < 3; i++) {
      await page.goto(`${server.url}/runs/big`, { waitUntil: 'commit' });
      opens.push(await chartsReady(page, ['Loss', 'Update:param ratio (log10)', 'Standard deviation (log10)', 'Learning rate', 'Metrics', 'System']));
      await page.goto(`${server.url}/runs/big/layers`, { waitUntil: 'commit' });
      layerOpens.push(await chartsReady(page, ['Parameters: mean ± std', 'Mean magnitude', 'Update:param ratio (log10)']));
    }
    const marks = await page.evaluate(() => performance.getEntriesByType('mark').map((m) => [m.name, m.startTime] as const));
    if (process.env.BENCH_TRACE) {
      await page.goto(`${server.url}/runs/big`, { waitUntil: 'commit' });
      await chartsReady(page, ['Loss', 'Update:param ratio (log10)', 'Standard deviation (log10)', 'Learning rate', 'Metrics', 'System']);
      console.log(await page.evaluate(() => [
        ...performance.getEntriesByType('resource').map((e) => `${e.name.replace(location.origin, '').slice(0, 70)} ${e.startTime.toFixed(0)}..${(e as PerformanceResourceTiming).responseEnd.toFixed(0)}`),
        ...performance.getEntriesByType('measure').map((e) => `${e.name} ${String((e as PerformanceMeasure).detail)} ${e.startTime.toFixed(0)} +${e.duration.toFixed(1)}`),
        ...performance.getEntriesByType('mark').map((e) => `${e.name} ${e.startTime.toFixed(0)}`),
      ].join('\n')));
    }
    const all = series.series.map((s) => s.name);
    // Both forms of the answer: rows (a client's default) and columns (what the dashboard asks for).
    const queryMs = await page.evaluate(async (names) => {
      const time = async (path: string) => {
        const t0 = performance.now();
        const r = await fetch(`/api/v1/runs/big/${path}?series=${encodeURIComponent(names.join(','))}&maxPoints=1000`);
        const bytes = (await r.text()).length;
        return { ms: performance.now() - t0, bytes };
      };
      return { rows: await time('query'), columns: await time('query/columns') };
    }, all);
    console.log(`run page, ${all.length} series x ${BIG_STEPS.toLocaleString('en-US')} steps (target < 1000 ms):`);
    console.log(`  overview: all charts drawn ${opens.map((o) => fmt(o)).join(' / ')} ms after navigation start (3 loads)`);
    console.log(`  layers:   all charts drawn ${layerOpens.map((o) => fmt(o)).join(' / ')} ms`);
    console.log(`  marks of the last load: ${marks.map(([n, s]) => `${n} ${fmt(s)} ms`).join(', ')}`);
    const q = (r: { ms: number; bytes: number }) => `${fmt(r.ms)} ms (${fmt(r.bytes / 1e6, 1)} MB)`;
    console.log(`  one query of all ${all.length} series at 1,000 buckets each, from the page: columns ${q(queryMs.columns)}, rows ${q(queryMs.rows)}`);

    // --- 20 overlaid runs, streaming live.
    t = Date.now();
    const small: LayerInfo[] = LAYERS.slice(0, 2);
    const clients = await Promise.all(Array.from({ length: OVERLAY_RUNS }, (_, i) => ingest(server.wsUrl, `sweep-${i}`, OVERLAY_STEPS, i, small)));
    console.log(`ingested ${OVERLAY_RUNS} runs x ${OVERLAY_STEPS} steps in ${fmt((Date.now() - t) / 1000, 1)} s`);
    const ids = clients.map((_, i) => `sweep-${i}`);
    await page.goto(`${server.url}/compare?runs=${ids.join(',')}&series=loss,lr,acc`, { waitUntil: 'commit' });
    const overlayOpen = await chartsReady(page, ['loss', 'lr', 'acc']);
    await page.evaluate(() => performance.clearMeasures());
    // Stream: every run sends 5 steps each 100 ms (50 steps/s per run, 1,000 steps/s in all).
    const lasts = await Promise.all(ids.map(async (id) => ((await (await fetch(`${server.url}/api/v1/runs/${id}`)).json()) as { lastStep: number | null }).lastStep ?? 0));
    let next = Math.max(OVERLAY_STEPS, ...lasts.map((l) => l + 1));
    const streaming = setInterval(() => {
      for (const [i, c] of clients.entries()) for (let k = 0; k < 5; k++) c.step(step(next + k, i, small));
      next += 5;
    }, 100);
    const probe = await page.evaluate(async (seconds) => {
      const longTasks: number[] = [];
      const obs = new PerformanceObserver((l) => l.getEntries().forEach((e) => longTasks.push(e.duration)));
      obs.observe({ type: 'longtask', buffered: false });
      const frames: number[] = [];
      let last = performance.now();
      let running = true;
      const frame = (now: number) => {
        frames.push(now - last);
        last = now;
        if (running) requestAnimationFrame(frame);
      };
      requestAnimationFrame(frame);
      const clicks: number[] = [];
      const box = document.querySelector<HTMLInputElement>('input[aria-label="loss log scale"]');
      const end = performance.now() + seconds * 1000;
      while (performance.now() < end) {
        await new Promise((r) => setTimeout(r, 500));
        if (!box) continue;
        const t0 = performance.now();
        box.click();
        // The click is handled and the next frame painted.
        await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
        clicks.push(performance.now() - t0);
      }
      running = false;
      obs.disconnect();
      const redraws = performance.getEntriesByName('gw:redraw').map((e) => e.duration);
      const w = window as unknown as { Chart: { getChart(c: HTMLCanvasElement): { data: { datasets: Array<{ gwRole?: string; data: Array<{ x: number }> }> } } | undefined } };
      const c = document.querySelector<HTMLCanvasElement>('canvas[data-chart="loss"]');
      const lines = (c ? w.Chart.getChart(c)?.data.datasets.filter((d) => d.gwRole === 'line') : []) ?? [];
      return { frames, longTasks, clicks, redraws, lastX: lines.map((l) => l.data[l.data.length - 1]?.x ?? 0) };
    }, LIVE_SECONDS);
    clearInterval(streaming);
    const sorted = (a: number[]) => [...a].sort((x, y) => x - y);
    const fr = sorted(probe.frames);
    const rd = sorted(probe.redraws);
    const cl = sorted(probe.clicks);
    console.log(`${OVERLAY_RUNS} overlaid runs (3 charts, ${OVERLAY_RUNS} lines each), streaming ${OVERLAY_RUNS * 50} steps/s for ${LIVE_SECONDS} s:`);
    console.log(`  opened in ${fmt(overlayOpen)} ms`);
    console.log(`  frames: ${fmt(probe.frames.length / LIVE_SECONDS, 1)} fps, frame gap p50 ${fmt(percentile(fr, 50), 1)} / p99 ${fmt(percentile(fr, 99), 1)} / max ${fmt(fr[fr.length - 1] ?? NaN, 1)} ms`);
    console.log(`  long tasks (> 50 ms): ${probe.longTasks.length}, longest ${fmt(Math.max(0, ...probe.longTasks))} ms`);
    console.log(`  chart redraws: ${fmt(probe.redraws.length / LIVE_SECONDS, 1)}/s over 3 charts, each p50 ${fmt(percentile(rd, 50), 1)} / p99 ${fmt(percentile(rd, 99), 1)} ms`);
    console.log(`  click → next frame (log toggle): p50 ${fmt(percentile(cl, 50), 1)} / max ${fmt(cl[cl.length - 1] ?? NaN, 1)} ms over ${cl.length} clicks`);
    const behind = probe.lastX.map((x) => next - 1 - x);
    console.log(`  live: last step drawn per run lags the last sent by ${fmt(Math.min(...behind))}..${fmt(Math.max(...behind))} steps at the end`);
    for (const c of clients) c.close();
    console.log(`data dir (reuse with --data-dir): ${server.dataDir}`);
  } finally {
    await browser?.close();
    await server.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
