import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { IngestClient } from '@gradwatch/client';
import type { LayerInfo, StepItem } from '@gradwatch/shared';
import { startServer, removeDir, type TestServer } from '../../server/test/helpers.js';

export const SCREENSHOTS = resolve(import.meta.dirname, '../../test-output/screenshots');

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

export interface Env {
  server: TestServer;
  browser: Browser;
  page: Page;
  /** Browser console errors and uncaught page errors, for asserting a clean run. */
  errors: string[];
  close(): Promise<void>;
}

/** A real server (real SQLite file, the built dashboard) and a headless Debian chromium. */
export async function startEnv(env: Record<string, string> = {}): Promise<Env> {
  const server = await startServer({ env });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  return {
    server, browser, page, errors,
    async close() {
      await browser.close();
      await server.close();
      removeDir(server.dataDir);
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: resolve(SCREENSHOTS, `${name}.png`), fullPage: true });
}

export const LAYERS: LayerInfo[] = [
  { name: 'fc1', kind: 'Linear', activation: 'relu', params: 100480, fanIn: 784, fanOut: 128 },
  { name: 'fc2', kind: 'Linear', activation: 'relu', params: 8256, fanIn: 128, fanOut: 64 },
  { name: 'out', kind: 'Linear', params: 650, fanIn: 64, fanOut: 10 },
];

/** A plausible step of a healthy MLP: falling loss, update ratios near 1e-3, settled activations. */
export function trainingStep(step: number, opts: { lr?: number; layers?: LayerInfo[]; loss?: number | 'NaN' | 'Infinity' | '-Infinity'; seed?: number } = {}): StepItem {
  const lr = opts.lr ?? 1e-3;
  const seed = opts.seed ?? 1;
  const noise = (k: number) => Math.sin(step * 12.9898 + k * 78.233 + seed * 3.1) * 0.5;
  const loss = opts.loss ?? 2.3 * Math.exp(-step / (200 + 2e-4 / lr)) + 0.08 + 0.05 * noise(1);
  const layers: NonNullable<StepItem['layers']> = {};
  (opts.layers ?? LAYERS).forEach((l, i) => {
    const p = 0.05 / (i + 1);
    const u = p * lr * (1 + 0.2 * noise(i + 2));
    const st = (mean: number, std: number, meanAbs: number) => ({ mean, std, meanAbs, min: mean - 3 * std, max: mean + 3 * std, norm: meanAbs * 100 });
    layers[l.name] = {
      param: st(0.001 * noise(i), p, p * 0.8),
      grad: st(0, 0.01 / (i + 1), 0.008 / (i + 1)),
      update: st(0, u * 1.2, u),
      act: st(0.4, 0.9 + 0.1 * noise(i + 5), 0.45),
    };
  });
  return { step, epoch: Math.floor(step / 100), time: 1_780_000_000 + step * 0.05, examples: 64, scalars: { loss, lr }, layers };
}

export interface StreamOpts {
  id: string;
  name?: string;
  project?: string;
  config?: Record<string, unknown>;
  tags?: string[];
  layers?: LayerInfo[];
}

export async function openRun(server: TestServer, o: StreamOpts): Promise<IngestClient> {
  const c = new IngestClient({
    url: server.wsUrl,
    run: { id: o.id, project: o.project ?? 'e2e', name: o.name ?? o.id, ...(o.config ? { config: o.config } : {}), ...(o.tags ? { tags: o.tags } : {}) },
    flushMs: 10,
  });
  await c.connect();
  c.model({ layers: o.layers ?? LAYERS, loss: 'CrossEntropyLoss', optimizer: { type: 'Adam', lr: Number(o.config?.lr ?? 1e-3) } });
  return c;
}

export async function streamSteps(c: IngestClient, from: number, to: number, make: (s: number) => StepItem): Promise<void> {
  for (let s = from; s < to; s++) c.step(make(s));
  await c.flush();
}

export interface DatasetView {
  label: string;
  role: string | null;
  data: Array<{ x: number; y: number | null; kind?: string; count?: number }>;
  /** Plain numbers, for bar charts (histograms). */
  values: number[];
}

/** What chart.js draws on the canvas labelled `title`: read through Chart.getChart. */
export async function chartData(page: Page, title: string): Promise<DatasetView[] | null> {
  return page.evaluate((t) => {
    const w = window as unknown as { Chart: { getChart(c: HTMLCanvasElement): { data: { datasets: Array<Record<string, unknown>> } } | undefined } };
    const canvas = [...document.querySelectorAll('canvas')].find((c) => c.dataset.chart === t);
    const chart = canvas ? w.Chart.getChart(canvas) : undefined;
    if (!chart) return null;
    return chart.data.datasets.map((d) => ({
      label: String(d.label),
      role: (d.gwRole as string | undefined) ?? null,
      data: (d.data as Array<{ x: number; y: number | null; kind?: string; count?: number } | number>)
        .filter((p) => typeof p === 'object')
        .map((p) => ({ x: p.x, y: p.y, ...(p.kind ? { kind: p.kind, count: p.count } : {}) })),
      values: (d.data as unknown[]).filter((p): p is number => typeof p === 'number'),
    }));
  }, title);
}

/** Polls until fn returns a truthy value (or throws with the last value after timeoutMs). */
export async function until<T>(fn: () => Promise<T> | T, timeoutMs = 15_000, what = 'condition'): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await fn();
    if (last) return last as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const lineOf = (ds: DatasetView[] | null, label: string) => ds?.find((d) => d.role === 'line' && d.label === label) ?? null;

export interface AxisView {
  /** What the x axis spans as drawn. */
  xMin: number;
  xMax: number;
  yType: string;
  /** The healthy band drawn behind the data, if any. */
  band: { lo: number; hi: number } | null;
}

/** The axes chart.js laid out for the canvas labelled `title`. */
export async function chartAxes(page: Page, title: string): Promise<AxisView | null> {
  return page.evaluate((t) => {
    type Scale = { min: number; max: number; type: string };
    const w = window as unknown as {
      Chart: { getChart(c: HTMLCanvasElement): { scales: Record<string, Scale>; options: { plugins?: { gwBand?: { lo: number; hi: number } | null } } } | undefined };
    };
    const canvas = [...document.querySelectorAll('canvas')].find((c) => c.dataset.chart === t);
    const chart = canvas ? w.Chart.getChart(canvas) : undefined;
    const x = chart?.scales.x;
    const y = chart?.scales.y;
    if (!chart || !x || !y) return null;
    const b = chart.options.plugins?.gwBand;
    return { xMin: x.min, xMax: x.max, yType: y.type, band: b ? { lo: b.lo, hi: b.hi } : null };
  }, title);
}
