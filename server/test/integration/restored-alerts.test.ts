/**
 * An alert open when its run's engine is replaced (a restart; new rule settings mid-run) stays
 * one alert: the next fire of its rule, on whatever layer, continues it, and its clearing
 * resolves it there and then, as it would have without the replacement.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '@gradwatch/shared';
import { getJson, hello, RawSocket, removeDir, startServer, tempDir, type TestServer } from '../helpers.js';

const RULE = 'lr.update_ratio_high';
const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close().catch(() => undefined);
});

const LAYERS = ['fc1', 'fc2'].map((name) => ({ name, kind: 'Linear', activation: 'relu', params: 100, fanIn: 10, fanOut: 10 }));
const stats = (meanAbs: number) => ({ mean: 0, std: meanAbs, meanAbs });

/** Steps seq..seq+n-1 (step = seq), with the update/param ratio 10^r1 on fc1 and 10^r2 on fc2. */
async function send(s: RawSocket, from: number, n: number, r1: number, r2: number): Promise<void> {
  for (let seq = from; seq < from + n; seq++) {
    const layers = { fc1: { param: stats(0.1), update: stats(0.1 * 10 ** r1) }, fc2: { param: stats(0.1), update: stats(0.1 * 10 ** r2) } };
    s.send({ type: 'steps', seq, items: [{ step: seq, scalars: { loss: 1 }, layers }] });
  }
  await s.ack(from + n - 1);
}

async function job(srv: TestServer, run: string): Promise<RawSocket> {
  const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
  s.send(hello(run));
  await s.next((m) => m.type === 'welcome');
  return s;
}

async function ruleAlerts(srv: TestServer, run: string): Promise<Alert[]> {
  return (await getJson<{ alerts: Alert[] }>(`${srv.url}/api/v1/runs/${run}/alerts?limit=100`)).body.alerts.filter((a) => a.rule === RULE);
}

type Verdict = Array<{ firstStep: number; symptoms: Array<{ rule: string; firstStep: number; open: boolean }> }>;
async function symptom(srv: TestServer, run: string): Promise<Verdict[number]['symptoms'][number] | undefined> {
  const v = (await getJson<{ diagnoses: Verdict }>(`${srv.url}/api/v1/runs/${run}/diagnosis`)).body.diagnoses;
  return v.flatMap((d) => d.symptoms).find((x) => x.rule === RULE);
}

/** A run whose fc1 alert opened at step 4 (sustained from step 2), on `srv`. */
async function openOnFc1(srv: TestServer, run: string): Promise<RawSocket> {
  const s = await job(srv, run);
  s.send({ type: 'model', seq: 1, layers: LAYERS });
  await s.ack(1);
  await send(s, 2, 40, -1, -3);
  expect(await ruleAlerts(srv, run)).toEqual([expect.objectContaining({ layer: 'fc1', status: 'open', firstStep: 4 })]);
  return s;
}

/** fc2 fires, then every layer is clean long enough for the episode to end. */
async function fc2ThenClean(srv: TestServer, s: RawSocket, run: string): Promise<void> {
  await send(s, 42, 20, -3, -1);
  const during = await ruleAlerts(srv, run);
  expect(during).toEqual([expect.objectContaining({ layer: 'fc1', layers: ['fc1', 'fc2'], status: 'open', firstStep: 4 })]);
  await send(s, 62, 200, -3, -3);
  const after = await ruleAlerts(srv, run);
  expect(after).toEqual([expect.objectContaining({ layer: 'fc1', status: 'resolved', firstStep: 4, lastStep: 61 })]);
  // Resolved by its condition clearing, not by the end of the run.
  expect(after[0]?.resolvedReason).toBeUndefined();
  expect(await symptom(srv, run)).toMatchObject({ firstStep: 4, open: false });
}

describe('alerts open across an engine replacement', () => {
  it('after a restart, a fire on another layer continues the stored alert and its clearing resolves it before the end', async () => {
    const dir = tempDir();
    const a = await startServer({ dataDir: dir });
    (await openOnFc1(a, 'restored-layer')).close();
    await a.close();

    const b = await startServer({ dataDir: dir });
    servers.push(b);
    const t = await job(b, 'restored-layer');
    await fc2ThenClean(b, t, 'restored-layer');
    t.close();
    removeDir(dir);
  });

  it('after a restart the verdict keeps the worst severity an alert reached, not the one it has now', async () => {
    const dir = tempDir();
    const a = await startServer({ dataDir: dir });
    const s = await job(a, 'restored-peak');
    const losses = async (srv: TestServer, sock: RawSocket, from: number, n: number, loss: (step: number) => number) => {
      for (let seq = from; seq < from + n; seq++) sock.send({ type: 'steps', seq, items: [{ step: seq, scalars: { loss: loss(seq) } }] });
      await sock.ack(from + n - 1);
      return (await getJson<{ alerts: Alert[] }>(`${srv.url}/api/v1/runs/restored-peak/alerts`)).body.alerts.find((x) => x.rule === 'lr.loss_diverging');
    };
    // A blow-up past 10x the first loss (critical), then a loss that stays high but below it (warning).
    expect(await losses(a, s, 1, 30, (i) => (i <= 20 ? 1 : 20))).toMatchObject({ severity: 'critical', status: 'open' });
    expect(await losses(a, s, 31, 60, () => 3)).toMatchObject({ severity: 'warning', status: 'open' });
    const top = async (srv: TestServer) => (await getJson<{ diagnoses: Array<{ severity: string }> }>(`${srv.url}/api/v1/runs/restored-peak/diagnosis`)).body.diagnoses[0];
    expect(await top(a)).toMatchObject({ severity: 'critical' });
    s.close();
    await a.close();

    const b = await startServer({ dataDir: dir });
    servers.push(b);
    const t = await job(b, 'restored-peak');
    // The loss stays high: the restored engine's new windows see nothing climb, which does not
    // make the alert resolve.
    expect(await losses(b, t, 91, 200, () => 3)).toMatchObject({ severity: 'warning', status: 'open', firstStep: 23 });
    // Down, then up again: the rule fires (warning), an alert change, so a verdict is stored.
    await losses(b, t, 291, 40, () => 1);
    const again = await losses(b, t, 331, 30, () => 3);
    expect(again).toMatchObject({ severity: 'warning', status: 'open', firstStep: 23 });
    expect(again?.lastStep).toBeGreaterThan(331);
    expect(await top(b)).toMatchObject({ severity: 'critical' });
    t.close();
    removeDir(dir);
  });

  it('new rule settings mid-run keep the open alert one alert and the verdict its start', async () => {
    const srv = await startServer({});
    servers.push(srv);
    const s = await openOnFc1(srv, 'resettled-layer');
    const put = await getJson(`${srv.url}/api/v1/projects/test/rules`, {
      method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ 'nan.detected': { stop: true } }),
    });
    expect(put.status).toBe(200);
    await fc2ThenClean(srv, s, 'resettled-layer');
    s.close();
  });
});
