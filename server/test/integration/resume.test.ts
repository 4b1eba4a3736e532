import { afterEach, describe, expect, it } from 'vitest';
import { IngestClient } from '@gradwatch/client';
import type { Alert, RunDetail } from '@gradwatch/shared';
import { getJson, hello, noRules, RawSocket, removeDir, startServer, tempDir, type TestServer } from '../helpers.js';

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close().catch(() => undefined);
});

async function lossPoints(srv: TestServer, run: string): Promise<Array<[number, number]>> {
  return (await getJson<{ points: Array<[number, number]> }>(`${srv.url}/api/v1/runs/${run}/series/export?name=loss`)).body.points;
}

describe('resume, restart and rewind', () => {
  it('a connection cut mid-stream loses nothing and duplicates nothing', async () => {
    const srv = await startServer({ engineFactory: noRules });
    servers.push(srv);
    const c = new IngestClient({ url: srv.wsUrl, run: { id: 'cut-1', project: 'test', name: 'cut' }, batchSize: 10, window: 8 });
    await c.connect();
    for (let s = 0; s < 3000; s++) {
      c.step({ step: s, scalars: { loss: s * 0.5 } });
      if (s % 700 === 350) {
        c.flushBatch();
        const before = c.connects;
        c.dropConnection();
        while (c.connects === before) await new Promise((r) => setTimeout(r, 5));
      }
      if (s % 100 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await c.end('completed', 60_000);
    c.close();
    expect(c.connects).toBeGreaterThan(3);
    const pts = await lossPoints(srv, 'cut-1');
    expect(pts.length).toBe(3000);
    pts.forEach(([step, v], i) => {
      expect(step).toBe(i);
      expect(v).toBe(i * 0.5);
    });
    removeDir(srv.dataDir);
  }, 60_000);

  it('a server restart keeps everything that was acked', async () => {
    const dir = tempDir();
    const a = await startServer({ dataDir: dir, engineFactory: noRules });
    const s = await RawSocket.open(`${a.wsUrl}/v1/ingest`);
    s.send(hello('restart-1'));
    await s.next((m) => m.type === 'welcome');
    for (let i = 1; i <= 600; i++) s.send({ type: 'steps', seq: i, items: [{ step: i, scalars: { loss: i / 7 } }] });
    await s.ack(600);
    s.send({ type: 'eval', seq: 601, step: 600, split: 'val', metrics: { loss: 0.25, acc: 'NaN' } });
    await s.ack(601);
    await a.close();

    const b = await startServer({ dataDir: dir, engineFactory: noRules });
    servers.push(b);
    const pts = await lossPoints(b, 'restart-1');
    expect(pts.length).toBe(600);
    expect(pts[599]).toEqual([600, 600 / 7]);
    const acc = await getJson<{ points: unknown[] }>(`${b.url}/api/v1/runs/restart-1/series/export?name=eval/val/acc`);
    expect(acc.body.points).toEqual([[600, 'NaN']]);
    const t = await RawSocket.open(`${b.wsUrl}/v1/ingest`);
    t.send(hello('restart-1'));
    expect(await t.next((m) => m.type === 'welcome')).toMatchObject({ lastSeq: 601, lastStep: 600 });
    t.send({ type: 'steps', seq: 602, items: [{ step: 601, scalars: { loss: 1 } }] });
    await t.ack(602);
    t.close();
    removeDir(dir);
  });

  it('an end after a restart resolves the alerts opened before it, and closes their verdict', async () => {
    const dir = tempDir();
    const a = await startServer({ dataDir: dir });
    const s = await RawSocket.open(`${a.wsUrl}/v1/ingest`);
    s.send(hello('restart-end'));
    await s.next((m) => m.type === 'welcome');
    for (let i = 1; i <= 40; i++) s.send({ type: 'steps', seq: i, items: [{ step: i, scalars: { loss: i > 30 ? 'NaN' : 1 / i } }] });
    await s.ack(40);
    s.close();
    await a.close();

    const b = await startServer({ dataDir: dir });
    servers.push(b);
    const openAlerts = async () => (await getJson<{ alerts: Alert[] }>(`${b.url}/api/v1/runs/restart-end/alerts?status=open`)).body.alerts;
    expect((await openAlerts()).map((x) => x.rule)).toContain('nan.detected');
    const verdict = async () => (await getJson<{ diagnoses: Array<{ active: boolean; symptoms: Array<{ open: boolean }> }> }>(`${b.url}/api/v1/runs/restart-end/diagnosis`)).body.diagnoses;
    expect((await verdict()).some((d) => d.active)).toBe(true);
    const t = await RawSocket.open(`${b.wsUrl}/v1/ingest`);
    t.send(hello('restart-end'));
    await t.next((m) => m.type === 'welcome');
    // A message refused on the way (a step sent again) forgets the verdict the session knew: the end must close it all the same.
    t.send({ type: 'steps', seq: 41, items: [{ step: 40, scalars: { loss: 0.5 } }] });
    await t.error(41);
    t.send({ type: 'steps', seq: 42, items: [{ step: 41, scalars: { loss: 0.5 } }] });
    t.send({ type: 'end', seq: 43, status: 'failed' });
    await t.ack(43);
    t.close();
    expect(await openAlerts()).toEqual([]);
    const nan = (await getJson<{ alerts: Alert[] }>(`${b.url}/api/v1/runs/restart-end/alerts`)).body.alerts.find((x) => x.rule === 'nan.detected');
    expect(nan).toMatchObject({ status: 'resolved', resolvedReason: 'ended with the run' });
    const closed = await verdict();
    expect(closed.length).toBeGreaterThan(0);
    expect(closed.every((d) => !d.active && d.symptoms.every((sym) => !sym.open))).toBe(true);
    removeDir(dir);
  });

  it('a verdict made after a restart still counts the alerts from before it', async () => {
    const dir = tempDir();
    const a = await startServer({ dataDir: dir });
    const send = async (s: RawSocket, from: number, to: number, loss: (step: number) => number | string) => {
      for (let i = from; i <= to; i++) s.send({ type: 'steps', seq: i, items: [{ step: i, scalars: { loss: loss(i) } }] });
      await s.ack(to);
    };
    const s = await RawSocket.open(`${a.wsUrl}/v1/ingest`);
    s.send(hello('restart-verdict'));
    await s.next((m) => m.type === 'welcome');
    await send(s, 1, 40, (i) => (i > 30 ? 'NaN' : 1 / i));
    s.close();
    await a.close();

    const b = await startServer({ dataDir: dir });
    servers.push(b);
    type Verdict = Array<{ firstStep: number; symptoms: Array<{ rule: string; firstStep: number; open: boolean }> }>;
    const verdict = async () => (await getJson<{ diagnoses: Verdict }>(`${b.url}/api/v1/runs/restart-verdict/diagnosis`)).body.diagnoses;
    const nanSymptom = (v: Verdict) => v.flatMap((d) => d.symptoms).find((x) => x.rule === 'nan.detected');
    expect(nanSymptom(await verdict())).toMatchObject({ firstStep: 31, open: true });
    const t = await RawSocket.open(`${b.wsUrl}/v1/ingest`);
    t.send(hello('restart-verdict'));
    await t.next((m) => m.type === 'welcome');
    // The restored engine sees NaN anew and opens its own episode: the verdict it then stores
    // must still say the symptom began at step 31, before the restart.
    await send(t, 41, 60, () => 'NaN');
    t.close();
    expect(nanSymptom(await verdict())).toMatchObject({ firstStep: 31, open: true });
    const nan = (await getJson<{ alerts: Alert[] }>(`${b.url}/api/v1/runs/restart-verdict/alerts`)).body.alerts.filter((x) => x.rule === 'nan.detected');
    expect(nan).toHaveLength(1);
    removeDir(dir);
  });

  it('a hello after the end keeps the run ended until something new comes, across a restart too', async () => {
    const dir = tempDir();
    const status = async (srv: TestServer) => (await getJson<RunDetail>(`${srv.url}/api/v1/runs/end-1`)).body.status;
    const a = await startServer({ dataDir: dir, engineFactory: noRules });
    const s = await RawSocket.open(`${a.wsUrl}/v1/ingest`);
    s.send(hello('end-1'));
    await s.next((m) => m.type === 'welcome');
    s.send({ type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 1 } }] });
    s.send({ type: 'end', seq: 2, status: 'stopped' });
    await s.ack(2);
    s.close();
    // The job never saw that ack: it says hello again, learns seq 2 is stored, sends nothing.
    const again = await RawSocket.open(`${a.wsUrl}/v1/ingest`);
    again.send(hello('end-1'));
    expect(await again.next((m) => m.type === 'welcome')).toMatchObject({ lastSeq: 2 });
    expect(await status(a)).toBe('stopped');
    // A message refused for its content stores nothing, so reopens nothing either.
    again.send({ type: 'steps', seq: 3, items: [{ step: 0, scalars: { loss: 2 } }] });
    expect(await again.next((m) => m.type === 'error')).toMatchObject({ code: 'step_order', seq: 3 });
    expect(await status(a)).toBe('stopped');
    again.close();
    await a.close();

    const b = await startServer({ dataDir: dir, engineFactory: noRules });
    servers.push(b);
    const t = await RawSocket.open(`${b.wsUrl}/v1/ingest`);
    t.send(hello('end-1'));
    await t.next((m) => m.type === 'welcome');
    expect(await status(b)).toBe('stopped');
    t.send({ type: 'steps', seq: 4, items: [{ step: 1, scalars: { loss: 0.5 } }] });
    await t.ack(4);
    const reopened = (await getJson<RunDetail>(`${b.url}/api/v1/runs/end-1`)).body;
    expect(reopened).toMatchObject({ status: 'live', endedAt: null });
    t.send({ type: 'end', seq: 5, status: 'completed' });
    await t.ack(5);
    expect(await status(b)).toBe('completed');
    t.close();
    removeDir(dir);
  });

  it('a hello on an ended run opens no config alert, on the same server or a fresh one; reopening judges config and model again', async () => {
    const dir = tempDir();
    const open = async (srv: TestServer) =>
      (await getJson<{ alerts: Alert[] }>(`${srv.url}/api/v1/runs/cfg-end/alerts?limit=500`)).body.alerts.filter((x) => x.status === 'open').map((x) => x.rule);
    const badConfig = hello('cfg-end', { run: { id: 'cfg-end', project: 'test', name: 'cfg', config: { lr: 5 } } });
    const a = await startServer({ dataDir: dir });
    const s = await RawSocket.open(`${a.wsUrl}/v1/ingest`);
    s.send(badConfig);
    await s.next((m) => m.type === 'welcome');
    expect(await open(a)).toContain('lr.config_out_of_range');
    // A deep sigmoid model: a static rule that reads the model alone (replayed into a fresh engine).
    const layers = Array.from({ length: 5 }, (_, i) => ({ name: `fc${i}`, kind: 'Linear', activation: i < 4 ? 'sigmoid' : 'identity', params: 100, fanIn: 10, fanOut: 10 }));
    s.send({ type: 'model', seq: 1, layers });
    await s.ack(1);
    expect(await open(a)).toContain('act.saturating_hidden');
    s.send({ type: 'steps', seq: 2, items: [{ step: 0, scalars: { loss: 1 } }] });
    s.send({ type: 'end', seq: 3, status: 'stopped' });
    await s.ack(3);
    s.close();
    expect(await open(a)).toEqual([]);
    const again = await RawSocket.open(`${a.wsUrl}/v1/ingest`);
    again.send(badConfig);
    await again.next((m) => m.type === 'welcome');
    expect(await open(a)).toEqual([]);
    again.close();
    await a.close();

    const b = await startServer({ dataDir: dir });
    servers.push(b);
    const t = await RawSocket.open(`${b.wsUrl}/v1/ingest`);
    t.send(badConfig);
    await t.next((m) => m.type === 'welcome');
    expect(await open(b)).toEqual([]);
    // A resumed job sends its model again: that message reopens the run, and each static alert
    // opens once more (one new alert each, no open-resolve-open churn).
    t.send({ type: 'model', seq: 4, layers });
    await t.ack(4);
    t.send({ type: 'steps', seq: 5, items: [{ step: 1, scalars: { loss: 0.5 } }] });
    await t.ack(5);
    expect((await getJson<RunDetail>(`${b.url}/api/v1/runs/cfg-end`)).body.status).toBe('live');
    expect((await open(b)).sort()).toEqual(['act.saturating_hidden', 'lr.config_out_of_range']);
    const all = (await getJson<{ alerts: Alert[] }>(`${b.url}/api/v1/runs/cfg-end/alerts?limit=500`)).body.alerts;
    expect(all.filter((x) => x.rule === 'act.saturating_hidden').map((x) => x.status).sort()).toEqual(['open', 'resolved']);
    t.close();
    removeDir(dir);
  });

  it('data on an ended run reopens it before its rules run: the configuration is judged first, then the step', async () => {
    const srv = await startServer();
    servers.push(srv);
    const badConfig = hello('nan-end', { run: { id: 'nan-end', project: 'test', name: 'nan', config: { lr: 5 } } });
    const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    s.send(badConfig);
    await s.next((m) => m.type === 'welcome');
    s.send({ type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 1 } }] });
    s.send({ type: 'end', seq: 2, status: 'stopped' });
    await s.ack(2);
    s.close();
    const t = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    t.send(badConfig);
    await t.next((m) => m.type === 'welcome');
    t.received.splice(0);
    t.send({ type: 'steps', seq: 3, items: [{ step: 1, scalars: { loss: 'NaN' } }] });
    await t.ack(3);
    const heard = t.received.flatMap((m) => (m.type === 'alert' && m.alert.status === 'open' ? [m.alert] : []));
    expect(heard.map((a) => a.rule)).toEqual(['lr.config_out_of_range', 'nan.detected']);
    const stored = (await getJson<{ alerts: Alert[] }>(`${srv.url}/api/v1/runs/nan-end/alerts?limit=500`)).body.alerts;
    const openIds = (rule: string) => stored.filter((a) => a.rule === rule && a.status === 'open').map((a) => a.id);
    expect(openIds('lr.config_out_of_range')[0]).toBeLessThan(openIds('nan.detected')[0] as number);
    t.close();
  });

  it('rewindTo discards points at and after the step, records the rewind, and accepts those steps again', async () => {
    const srv = await startServer({ engineFactory: noRules });
    servers.push(srv);
    const c = new IngestClient({ url: srv.wsUrl, run: { id: 'rw-1', project: 'test', name: 'rewind' }, batchSize: 64 });
    await c.connect();
    // 1000 steps: chunks are sealed every 256 rows, so the rewind cuts through a sealed chunk.
    for (let s = 0; s < 1000; s++) c.step({ step: s, scalars: { loss: s } });
    c.eval({ step: 500, split: 'val', metrics: { loss: 1 } });
    c.eval({ step: 900, split: 'val', metrics: { loss: 2 } });
    c.hist({ step: 800, layer: 'fc', of: 'param', edges: [0, 1], counts: [3] });
    await c.flush();
    c.close();

    const r = new IngestClient({ url: srv.wsUrl, run: { id: 'rw-1', project: 'test', name: 'rewind' }, rewindTo: 600, batchSize: 64 });
    await r.connect();
    for (let s = 600; s < 700; s++) r.step({ step: s, scalars: { loss: -s } });
    await r.flush();
    r.close();

    const pts = await lossPoints(srv, 'rw-1');
    expect(pts.length).toBe(700);
    expect(pts[599]).toEqual([599, 599]);
    expect(pts[600]).toEqual([600, -600]);
    expect(pts[699]).toEqual([699, -699]);
    const ev = await getJson<{ points: unknown[] }>(`${srv.url}/api/v1/runs/rw-1/series/export?name=eval/val/loss`);
    expect(ev.body.points).toEqual([[500, 1]]);
    const h = await getJson<{ histograms: unknown[] }>(`${srv.url}/api/v1/runs/rw-1/histograms`);
    expect(h.body.histograms).toEqual([]);
    const d = await getJson<RunDetail>(`${srv.url}/api/v1/runs/rw-1`);
    expect(d.body.events).toEqual([expect.objectContaining({ kind: 'rewind', step: 600, detail: { previousLastStep: 999 } })]);
    expect(d.body.lastStep).toBe(699);
    removeDir(srv.dataDir);
  });

  it('rewinding through summarised windows keeps range queries exact', async () => {
    const srv = await startServer({ engineFactory: noRules });
    servers.push(srv);
    const send = async (rewindTo: number | undefined, from: number, to: number, f: (s: number) => number) => {
      const c = new IngestClient({ url: srv.wsUrl, run: { id: 'rw-2', project: 'test', name: 'rewind' }, batchSize: 500, ...(rewindTo !== undefined ? { rewindTo } : {}) });
      await c.connect();
      for (let s = from; s < to; s++) c.step({ step: s, scalars: { loss: f(s) } });
      await c.flush(60_000);
      c.close();
    };
    await send(undefined, 0, 20_000, (s) => s);
    await send(9_000, 9_000, 10_000, (s) => -s);
    const q = await getJson<{ series: Array<{ buckets: Array<{ count: number; min: number; max: number; last: number; toStep: number }> }> }>(
      `${srv.url}/api/v1/runs/rw-2/query?series=loss&maxPoints=1`,
    );
    expect(q.body.series[0]?.buckets).toEqual([expect.objectContaining({ count: 10_000, min: -9_999, max: 8_999, last: -9_999, toStep: 9_999 })]);
    removeDir(srv.dataDir);
  });
});
