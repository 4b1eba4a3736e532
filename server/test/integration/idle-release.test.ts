import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '@gradwatch/shared';
import { getJson, hello, noRules, RawSocket, removeDir, startServer, type TestServer } from '../helpers.js';

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    await s.close().catch(() => undefined);
    removeDir(s.dataDir);
  }
});

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A job's socket, welcomed (with these fields in its welcome). */
async function job(srv: TestServer, run: string, welcome: Record<string, unknown> = {}): Promise<RawSocket> {
  const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
  s.send(hello(run));
  expect(await s.next((m) => m.type === 'welcome')).toMatchObject(welcome);
  return s;
}

async function nanAlerts(srv: TestServer, run: string): Promise<Alert[]> {
  return (await getJson<{ alerts: Alert[] }>(`${srv.url}/api/v1/runs/${run}/alerts?limit=100`)).body.alerts.filter((a) => a.rule === 'nan.detected');
}

async function lossPoints(srv: TestServer, run: string): Promise<Array<[number, number | string]>> {
  return (await getJson<{ points: Array<[number, number | string]> }>(`${srv.url}/api/v1/runs/${run}/series/export?name=loss`)).body.points;
}

/** steps seq from..to, one step each (step = seq - 1), loss as `loss(step)`. */
async function sendSteps(s: RawSocket, from: number, to: number, loss: (step: number) => number | string): Promise<void> {
  for (let seq = from; seq <= to; seq++) s.send({ type: 'steps', seq, items: [{ step: seq - 1, scalars: { loss: loss(seq - 1) } }] });
  await s.ack(to);
}

describe('the memory of runs whose job went away', () => {
  it('an ended run is released once its job disconnects, and a later hello resumes it from the store', async () => {
    const srv = await startServer({ engineFactory: noRules });
    servers.push(srv);
    const s = await job(srv, 'rel-end');
    // Past the first seal: the run has chunks and tail rows in memory.
    await sendSteps(s, 1, 300, (step) => step / 4);
    s.send({ type: 'end', seq: 301, status: 'completed' });
    await s.ack(301);
    expect(srv.app.ingest.heldRuns()).toBe(1);
    s.close();
    await until('the ended run is released', () => srv.app.ingest.heldRuns() === 0);

    const t = await job(srv, 'rel-end', { lastSeq: 301, lastStep: 299 });
    expect(srv.app.ingest.heldRuns()).toBe(1);
    await sendSteps(t, 302, 340, (step) => step / 4);
    t.close();
    const pts = await lossPoints(srv, 'rel-end');
    // Step 300 went unused: seq 301 was the end.
    const steps = [...Array.from({ length: 300 }, (_, i) => i), ...Array.from({ length: 39 }, (_, i) => 301 + i)];
    expect(pts).toEqual(steps.map((step) => [step, step / 4]));
  });

  it('a run left without an end stays held for the idle time: its job comes back to its open alert as it left it', async () => {
    const srv = await startServer();
    servers.push(srv);
    const s = await job(srv, 'rel-idle');
    await sendSteps(s, 1, 40, (step) => (step >= 30 ? 'NaN' : 1 / (step + 1)));
    const [first] = await nanAlerts(srv, 'rel-idle');
    expect(first).toMatchObject({ status: 'open' });
    s.close();
    await until('the job is gone', () => srv.app.ingest.connectedRuns().size === 0);
    await new Promise((r) => setTimeout(r, 1500));
    expect(srv.app.ingest.heldRuns()).toBe(1);

    const t = await job(srv, 'rel-idle', { lastSeq: 40, lastStep: 39 });
    await sendSteps(t, 41, 60, () => 'NaN');
    t.send({ type: 'end', seq: 61, status: 'failed' });
    await t.ack(61);
    t.close();
    const after = await nanAlerts(srv, 'rel-idle');
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ id: first?.id, status: 'resolved' });
    await until('the ended run is released', () => srv.app.ingest.heldRuns() === 0);
  });

  it('a run left without an end is released after GRADWATCH_IDLE_RELEASE_S; resumed, its alert stays one, its verdict keeps its start, its end closes both', async () => {
    const srv = await startServer({ env: { GRADWATCH_IDLE_RELEASE_S: '1' } });
    servers.push(srv);
    const s = await job(srv, 'rel-timeout');
    await sendSteps(s, 1, 40, (step) => (step >= 30 ? 'NaN' : 1 / (step + 1)));
    const [first] = await nanAlerts(srv, 'rel-timeout');
    s.close();
    await until('the job is gone', () => srv.app.ingest.connectedRuns().size === 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(srv.app.ingest.heldRuns()).toBe(1);
    await until('the idle run is released', () => srv.app.ingest.heldRuns() === 0, 5000);

    const t = await job(srv, 'rel-timeout', { lastSeq: 40, lastStep: 39 });
    await sendSteps(t, 41, 60, () => 'NaN');
    const again = await nanAlerts(srv, 'rel-timeout');
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ id: first?.id, status: 'open' });
    type Verdict = Array<{ active: boolean; symptoms: Array<{ rule: string; firstStep: number; open: boolean }> }>;
    const verdict = async () => (await getJson<{ diagnoses: Verdict }>(`${srv.url}/api/v1/runs/rel-timeout/diagnosis`)).body.diagnoses;
    expect((await verdict()).flatMap((d) => d.symptoms).find((x) => x.rule === 'nan.detected')).toMatchObject({ firstStep: 30, open: true });
    t.send({ type: 'end', seq: 61, status: 'failed' });
    await t.ack(61);
    t.close();
    expect((await nanAlerts(srv, 'rel-timeout')).map((a) => a.status)).toEqual(['resolved']);
    expect((await verdict()).every((d) => !d.active && d.symptoms.every((x) => !x.open))).toBe(true);
    expect((await lossPoints(srv, 'rel-timeout')).length).toBe(60);
  });

  it('a run released after its end and resumed is judged afresh: a new alert opens and its end resolves it', async () => {
    const srv = await startServer();
    servers.push(srv);
    const s = await job(srv, 'rel-again');
    await sendSteps(s, 1, 20, (step) => (step >= 10 ? 'NaN' : 1));
    s.send({ type: 'end', seq: 21, status: 'failed' });
    await s.ack(21);
    s.close();
    await until('the ended run is released', () => srv.app.ingest.heldRuns() === 0);
    expect((await nanAlerts(srv, 'rel-again')).map((a) => a.status)).toEqual(['resolved']);

    const t = await job(srv, 'rel-again');
    await sendSteps(t, 22, 40, (step) => (step >= 30 ? 'NaN' : 1));
    const reopened = await nanAlerts(srv, 'rel-again');
    expect(reopened.map((a) => a.status).sort()).toEqual(['open', 'resolved']);
    t.send({ type: 'end', seq: 41, status: 'failed' });
    await t.ack(41);
    t.close();
    expect((await nanAlerts(srv, 'rel-again')).map((a) => a.status)).toEqual(['resolved', 'resolved']);
    const open = await getJson<{ alerts: Alert[] }>(`${srv.url}/api/v1/runs/rel-again/alerts?status=open`);
    expect(open.body.alerts).toEqual([]);
  });

  it('a job that ends and closes at once, its messages still queued, loses nothing and is released once they are stored', async () => {
    const srv = await startServer({ engineFactory: noRules });
    servers.push(srv);
    const s = await job(srv, 'rel-burst');
    // Far more than one batch: at the close most of them still wait in the queue.
    for (let seq = 1; seq <= 400; seq++) s.send({ type: 'steps', seq, items: [{ step: seq - 1, scalars: { loss: seq } }] });
    s.send({ type: 'end', seq: 401, status: 'completed' });
    s.close();
    await until('the ended run is released', () => srv.app.ingest.heldRuns() === 0, 15_000);
    expect((await lossPoints(srv, 'rel-burst')).length).toBe(400);
    expect((await getJson<{ status: string }>(`${srv.url}/api/v1/runs/rel-burst`)).body.status).toBe('completed');
  });

  it('a job that comes back finds its run still held', async () => {
    const srv = await startServer({ engineFactory: noRules });
    servers.push(srv);
    const s = await job(srv, 'rel-back');
    await sendSteps(s, 1, 10, (step) => step);
    s.close();
    await until('the job is gone', () => srv.app.ingest.connectedRuns().size === 0);
    await new Promise((r) => setTimeout(r, 200));
    expect(srv.app.ingest.heldRuns()).toBe(1);
    const t = await job(srv, 'rel-back', { lastSeq: 10, lastStep: 9 });
    await sendSteps(t, 11, 12, (step) => step);
    t.close();
    expect((await lossPoints(srv, 'rel-back')).length).toBe(12);
  });
});
