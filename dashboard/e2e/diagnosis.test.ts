import type { Alert, AlertPage, Diagnosis, RunDiagnosis } from '@gradwatch/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onsetWindow } from '../src/lib/diagnosis.js';
import { loadRecorded, openRecorded, replayRecorded, withoutEnd } from './corpus.js';
import { chartAxes, chartData, lineOf, screenshot, startEnv, until, type Env } from './helpers.js';

/**
 * Two recorded PyTorch trainings (server/test/diagnosis/corpus): plain SGD at lr 8, whose loss
 * explodes within a few steps and is NaN from step 10; and an MLP whose lr is raised from 0.01
 * to 2 at step 250 of 450. Both are a learning rate too high.
 */
const NAN_RUN = { id: 'dx-lr8', name: 'sgd lr 8 (NaN)' };
const RAISED = { id: 'dx-raised', name: 'lr raised at 250' };

async function rest<T>(env: Env, path: string): Promise<T> {
  const r = await fetch(`${env.server.url}/api/v1${path}`);
  expect(r.status, path).toBe(200);
  return (await r.json()) as T;
}

const verdictOf = (ds: Diagnosis[]) => ds.filter((d) => d.severity !== 'info').sort((a, b) => a.rank - b.rank);

describe('the diagnosis panel, the runs list and the grouped alerts', () => {
  let env: Env;
  const diagnosisRequests: string[] = [];
  beforeAll(async () => {
    env = await startEnv();
    env.page.on('request', (r) => {
      if (/\/api\/v1\/runs\/[^/]+\/diagnosis/.test(r.url())) diagnosisRequests.push(r.url());
    });
    const raised = loadRecorded('mlp-lr-raised');
    const c = await openRecorded(env.server, raised, RAISED.id, RAISED.name);
    await replayRecorded(c, withoutEnd(raised.rest));
    c.close();
  });
  afterAll(async () => env?.close());

  it('shows the cause and advice live, as the run diverges into NaN, without reloading or polling', async () => {
    const { page, server } = env;
    const rec = loadRecorded('mlp-sgd-lr8');
    const c = await openRecorded(server, rec, NAN_RUN.id, NAN_RUN.name);
    await page.goto(`${server.url}/runs/${NAN_RUN.id}`);
    const panel = page.locator('[data-diagnosis-panel]');
    await panel.locator('[data-verdict="none"]').waitFor({ timeout: 10_000 });
    await page.evaluate(() => ((window as unknown as { gwSame: boolean }).gwSame = true));
    const before = diagnosisRequests.length;

    await replayRecorded(c, withoutEnd(rec.rest));
    const card = panel.locator('.dcard').first();
    await card.waitFor({ timeout: 15_000 });
    const ds = (await rest<RunDiagnosis>(env, `/runs/${NAN_RUN.id}/diagnosis`)).diagnoses;
    const top = verdictOf(ds)[0];
    expect(top?.cause).toBe('lr_too_high');
    expect(top?.severity).toBe('critical');
    // What the page shows is the server's verdict, as text.
    await until(async () => (await card.getAttribute('data-cause')) === top?.cause, 10_000, 'the top cause');
    expect(await card.locator('.title').textContent()).toBe('Learning rate too high');
    await until(async () => (await card.locator('.advice').textContent()) === top?.advice, 10_000, 'the advice');
    expect(top?.advice).toMatch(/learning rate/i);
    expect(await card.locator('.conf strong').textContent()).toBe(`${Math.round((top?.confidence ?? 0) * 100)}%`);
    // It came over the socket: the page never reloaded and asked for the diagnosis no more.
    expect(await page.evaluate(() => (window as unknown as { gwSame?: boolean }).gwSame)).toBe(true);
    expect(diagnosisRequests.length).toBe(before);

    // The symptoms, each linked to its alert; the NaN among them.
    const alerts = (await rest<AlertPage>(env, `/runs/${NAN_RUN.id}/alerts?limit=500`)).alerts;
    const rules = top?.symptoms.map((s) => s.rule) ?? [];
    expect(rules).toContain('nan.detected');
    await until(async () => (await card.locator('li[data-symptom] a').count()) === rules.length, 10_000, 'symptom links');
    for (const rule of rules) {
      const href = await card.locator(`li[data-symptom="${rule}"] a`).getAttribute('href');
      const a = alerts.find((x) => x.rule === rule);
      expect(href).toBe(`/runs/${NAN_RUN.id}/alerts/${a?.id}`);
    }

    // The onset chart: the loss over the window around the first step, the onset marked.
    const onset = await until(async () => {
      const d = await chartData(page, 'Around the onset');
      return (lineOf(d, 'loss')?.data.length ?? 0) > 0 ? d : null;
    }, 10_000, 'onset chart');
    expect(onset.find((d) => d.role === 'onset')?.data.map((p) => p.x)).toEqual([top?.firstStep, top?.firstStep]);
    await screenshot(page, 'diagnosis-run-lr8');

    await c.end('failed');
    c.close();
  });

  it('zooms the onset chart on the steps around a fault that starts mid-run', async () => {
    const { page, server } = env;
    await page.goto(`${server.url}/runs/${RAISED.id}`);
    const top = verdictOf((await rest<RunDiagnosis>(env, `/runs/${RAISED.id}/diagnosis`)).diagnoses)[0];
    expect(top?.cause).toBe('lr_too_high');
    // The lr was raised at step 250: the diagnosis starts there, not at the run's start.
    expect(top?.firstStep).toBeGreaterThanOrEqual(250);
    const [lo, hi] = onsetWindow(top?.firstStep ?? 0, 449);
    const axes = await until(async () => {
      const a = await chartAxes(page, 'Around the onset');
      return a && a.xMin === lo && a.xMax === hi ? a : null;
    }, 10_000, `onset chart over ${lo}–${hi}`);
    expect(axes.xMax - axes.xMin).toBeLessThan(449);
    const loss = lineOf(await chartData(page, 'Around the onset'), 'loss');
    expect(loss?.data.every((p) => p.x >= lo && p.x <= hi)).toBe(true);
    await screenshot(page, 'diagnosis-run-raised-onset');

    // A symptom's own series, around its own steps, shaded.
    const dead = top?.symptoms.find((s) => s.rule === 'act.dead_units');
    expect(dead?.layers?.length).toBeGreaterThan(0);
    await page.locator('li[data-symptom="act.dead_units"]').getByRole('button', { name: 'chart' }).click();
    const label = `${dead?.layers?.[0]} act fracDeadUnits`;
    const [slo, shi] = onsetWindow(dead?.firstStep ?? 0, 449);
    const picked = await until(async () => {
      const d = await chartData(page, 'Around the onset');
      const a = await chartAxes(page, 'Around the onset');
      return (lineOf(d, label)?.data.length ?? 0) > 0 && a?.xMin === slo && a.xMax === shi ? d : null;
    }, 10_000, `${label} over ${slo}–${shi}`);
    expect(lineOf(picked, 'loss')).toBeNull();
    expect(picked.find((d) => d.role === 'highlight')?.data.map((p) => p.x)).toEqual([dead?.firstStep, dead?.firstStep, dead?.lastStep, dead?.lastStep]);
    await screenshot(page, 'diagnosis-run-raised-symptom');
    await page.locator('li[data-symptom="act.dead_units"]').getByRole('button', { name: 'chart' }).click();
    await until(async () => lineOf(await chartData(page, 'Around the onset'), 'loss'), 10_000, 'back to the loss');
    await page.locator('[data-diagnosis-panel]').getByRole('button', { name: 'Whole run' }).click();
    await until(async () => (await chartAxes(page, 'Around the onset'))?.xMin === 0, 10_000, 'whole run');
    await screenshot(page, 'diagnosis-run-raised');
  });

  it('shows each run’s top diagnosis in the runs list', async () => {
    const { page, server } = env;
    await page.goto(server.url);
    for (const r of [NAN_RUN, RAISED]) {
      const cell = page.locator(`tr[data-run="${r.id}"] td.dx`);
      await until(async () => (await cell.textContent())?.includes('Learning rate too high'), 10_000, `${r.id} diagnosis`);
    }
    expect(await page.locator(`tr[data-run="${NAN_RUN.id}"] td.dx .badge`).textContent()).toBe('critical');
    await screenshot(page, 'diagnosis-runs-list');
  });

  it('groups the alerts page by run, shown by name, and by diagnosis; layers and resolve reasons shown', async () => {
    const { page, server } = env;
    await page.goto(`${server.url}/alerts`);
    await page.getByLabel('Status').selectOption('');
    const group = page.locator(`[data-run-group="${NAN_RUN.id}"]`);
    await until(async () => (await group.locator('header .name').textContent()) === NAN_RUN.name, 10_000, 'run name');
    const ds = (await rest<RunDiagnosis>(env, `/runs/${NAN_RUN.id}/diagnosis`)).diagnoses;
    const alerts = (await rest<AlertPage>(env, `/runs/${NAN_RUN.id}/alerts?limit=500`)).alerts;
    const top = verdictOf(ds)[0] as Diagnosis;
    const expected = alerts.filter((a) => top.symptoms.some((s) => s.rule === a.rule)).map((a) => String(a.id));
    const rows = group.locator(`[data-group="${top.cause}"] tr[data-alert]`);
    await until(async () => (await rows.count()) === expected.length, 10_000, 'alerts under the diagnosis');
    expect((await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-alert')))).sort()).toEqual(expected.sort());
    expect(await group.locator(`[data-group="${top.cause}"] .ghead`).textContent()).toContain(top.advice);

    // Every layer of an alert, and why it resolved (the run ended).
    const raised = (await rest<AlertPage>(env, `/runs/${RAISED.id}/alerts?limit=500`)).alerts;
    const multi = [...alerts, ...raised].filter((a): a is Alert & { layers: string[] } => (a.layers?.length ?? 0) > 1);
    expect(multi.length).toBeGreaterThan(0);
    for (const a of multi) expect(await page.locator(`tr[data-alert="${a.id}"] td.layer`).textContent()).toBe(a.layers.join(', '));
    const ended = alerts.filter((a) => a.status === 'resolved' && a.resolvedReason);
    expect(ended.length).toBeGreaterThan(0);
    for (const a of ended) expect(await group.locator(`tr[data-alert="${a.id}"] .reason`).textContent()).toBe(a.resolvedReason);
    // The other run is a group of its own.
    await page.locator(`[data-run-group="${RAISED.id}"] header .name`, { hasText: RAISED.name }).waitFor();
    await screenshot(page, 'diagnosis-alerts-grouped');
    expect(env.errors).toEqual([]);
  });
});
