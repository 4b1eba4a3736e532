import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { IngestClient } from '@gradwatch/client';
import type { Alert, LiveServerMsg } from '@gradwatch/shared';
import { fixtureMessages } from '../../../tools/tiny-train/wire.js';
import { getJson, removeDir, startServer, type TestServer } from '../helpers.js';
import { fixtureNames, loadFixture } from '../rules/helpers.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  await srv.close();
  removeDir(srv.dataDir);
});

/** Streams a recorded run through the real socket, evals interleaved at their steps. */
async function stream(name: string, runId: string, project = 'alerts'): Promise<IngestClient> {
  const m = fixtureMessages(loadFixture(name), runId);
  const c = new IngestClient({ url: srv.wsUrl, run: { ...m.run, project }, batchSize: 20 });
  await c.connect();
  c.model(m.model);
  let e = 0;
  for (const s of m.steps) {
    c.step(s);
    while (e < m.evals.length && (m.evals[e]?.step ?? Infinity) <= s.step) c.eval(m.evals[e++] as (typeof m.evals)[number]);
  }
  await c.end('completed');
  return c;
}

async function alertsOf(runId: string): Promise<Alert[]> {
  return (await getJson<{ alerts: Alert[] }>(`${srv.url}/api/v1/runs/${runId}/alerts?limit=500`)).body.alerts;
}

describe('alerts end to end', () => {
  it('a NaN raises a critical alert on the step it arrives: back to the job, to REST and to live subscribers', async () => {
    const live = new WebSocket(`${srv.wsUrl}/v1/live`);
    const got: LiveServerMsg[] = [];
    live.on('message', (d: Buffer) => got.push(JSON.parse(d.toString()) as LiveServerMsg));
    await new Promise((r) => live.once('open', r));
    live.send(JSON.stringify({ type: 'subscribe', runs: ['*'] }));

    const fx = loadFixture('fault-lr-nan');
    const firstNaN = fx.steps.find((s) => s[1] === 'NaN')?.[0];
    const c = await stream('fault-lr-nan', 'e2e-nan');
    c.close();
    const nan = c.alerts.find((a) => a.rule === 'nan.detected');
    expect(nan).toMatchObject({ severity: 'critical', status: 'open', runId: 'e2e-nan' });
    expect(nan?.firstStep).toBeLessThanOrEqual(firstNaN as number);
    expect(typeof nan?.advice).toBe('string');

    const rest = await alertsOf('e2e-nan');
    expect(rest.find((a) => a.rule === 'nan.detected')).toMatchObject({ id: nan?.id, severity: 'critical', section: expect.any(String) });
    await new Promise((r) => setTimeout(r, 300));
    live.close();
    expect(got.some((m) => m.type === 'alert' && m.alert.id === nan?.id)).toBe(true);
  });

  it('each recorded fault fires its intended rule through the real server', async () => {
    const expectations: Record<string, string> = {
      'fault-deep-sigmoid': 'act.saturating_hidden',
      'fault-unnormalized': 'data.inputs_unnormalized',
      'fault-zero-init': 'init.constant',
      'fault-lr-high': 'lr.update_ratio_high',
      'fault-overfit': 'epochs.overfitting',
    };
    for (const [name, rule] of Object.entries(expectations)) {
      await stream(name, `e2e-${name}`).then((c) => c.close());
      const rules = (await alertsOf(`e2e-${name}`)).map((a) => a.rule);
      expect(rules, name).toContain(rule);
    }
  });

  it('healthy recorded runs raise no warning and no critical alert', async () => {
    for (const name of fixtureNames().filter((n) => n.startsWith('healthy-'))) {
      await stream(name, `e2e-${name}`).then((c) => c.close());
      const loud = (await alertsOf(`e2e-${name}`)).filter((a) => a.severity !== 'info');
      expect(loud, name).toEqual([]);
    }
  });

  it('filters alerts across runs, acknowledges and mutes them', async () => {
    const all = await getJson<{ alerts: Alert[] }>(`${srv.url}/api/v1/alerts?severity=critical&rule=nan.detected`);
    expect(all.body.alerts.length).toBeGreaterThan(0);
    expect(all.body.alerts.every((a) => a.severity === 'critical' && a.rule === 'nan.detected')).toBe(true);
    const id = all.body.alerts[0]?.id as number;
    const patched = await getJson<Alert>(`${srv.url}/api/v1/alerts/${id}`, {
      method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ acknowledged: true, muted: true }),
    });
    expect(patched.body).toMatchObject({ id, acknowledged: true, muted: true });
    expect((await getJson<Alert>(`${srv.url}/api/v1/alerts/${id}`)).body).toMatchObject({ id, acknowledged: true, muted: true });
    expect((await getJson(`${srv.url}/api/v1/alerts/999999`)).status).toBe(404);
    expect((await getJson(`${srv.url}/api/v1/alerts/${id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"color":"red"}' })).status).toBe(400);
    const page1 = await getJson<{ alerts: Alert[]; nextCursor: string | null }>(`${srv.url}/api/v1/alerts?limit=2`);
    expect(page1.body.alerts.length).toBe(2);
    const page2 = await getJson<{ alerts: Alert[] }>(`${srv.url}/api/v1/alerts?limit=2&cursor=${page1.body.nextCursor}`);
    expect(page2.body.alerts[0]?.id).toBeLessThan(page1.body.alerts[1]?.id as number);
  });

  it('new rule settings mid-run keep the run\'s configuration: its config alert still ends with the run', async () => {
    const c = new IngestClient({ url: srv.wsUrl, run: { id: 'settings-mid', project: 'resettled', name: 'lr 5', config: { lr: 5 } } });
    await c.connect();
    await c.flush();
    expect((await alertsOf('settings-mid')).map((a) => [a.rule, a.status])).toContainEqual(['lr.config_out_of_range', 'open']);
    const put = await getJson(`${srv.url}/api/v1/projects/resettled/rules`, {
      method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ 'nan.detected': { stop: true } }),
    });
    expect(put.status).toBe(200);
    c.model({ layers: [{ name: 'fc', kind: 'Linear', params: 10 }] });
    c.step({ step: 0, scalars: { loss: 1 } });
    await c.end('completed');
    c.close();
    const cfg = (await alertsOf('settings-mid')).filter((a) => a.rule === 'lr.config_out_of_range');
    expect(cfg).toEqual([expect.objectContaining({ status: 'resolved' })]);
  });

  it('serves the rule catalogue, validates project settings, and sends stop for stopping rules', async () => {
    const cat = await getJson<{ rules: Array<{ id: string }> }>(`${srv.url}/api/v1/rules`);
    expect(cat.body.rules.map((r) => r.id)).toContain('nan.detected');
    const put = (body: unknown) =>
      getJson(`${srv.url}/api/v1/projects/stoppers/rules`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await put({ 'no.such.rule': { enabled: false } })).status).toBe(400);
    expect((await put({ 'nan.detected': { stop: 'yes' } })).status).toBe(400);
    expect((await put({ 'nan.detected': { stop: true } })).status).toBe(200);
    expect((await getJson<{ settings: unknown }>(`${srv.url}/api/v1/projects/stoppers/rules`)).body.settings).toEqual({ 'nan.detected': { stop: true } });

    const commands: unknown[] = [];
    const m = fixtureMessages(loadFixture('fault-lr-nan'), 'e2e-stop');
    const c = new IngestClient({ url: srv.wsUrl, run: { ...m.run, project: 'stoppers' } });
    c.on('command', (cmd) => commands.push(cmd));
    await c.connect();
    c.model(m.model);
    for (const s of m.steps) c.step(s);
    await c.end('stopped');
    c.close();
    expect(commands).toEqual([expect.objectContaining({ action: 'stop', reason: expect.stringContaining('nan.detected') })]);
  });
});
