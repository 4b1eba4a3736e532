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
    const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    s.send(hello('rel-end'));
    await s.next((m) => m.type === 'welcome');
    // Past the first seal: the run has chunks and tail rows in memory.
    await sendSteps(s, 1, 300, (step) => step / 4);
    s.send({ type: 'end', seq: 301, status: 'completed' });
    await s.ack(301);
    expect(srv.app.ingest.heldRuns()).toBe(1);
    s.close();
    await until('the ended run is released', () => srv.app.ingest.heldRuns() === 0);

    const t = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    t.send(hello('rel-end'));
    expect(await t.next((m) => m.type === 'welcome')).toMatchObject({ lastSeq: 301, lastStep: 299 });
    expect(srv.app.ingest.heldRuns()).toBe(1);
    await sendSteps(t, 302, 340, (step) => step / 4);
    t.close();
    const pts = await lossPoints(srv, 'rel-end');
    // Step 300 went unused: seq 301 was the end.
    const steps = [...Array.from({ length: 300 }, (_, i) => i), ...Array.from({ length: 39 }, (_, i) => 301 + i)];
    expect(pts).toEqual(steps.map((step) => [step, step / 4]));
  });

  it('a run left without an end is held for GRADWATCH_IDLE_RELEASE_S, then released; its open alert stays one alert', async () => {
    const srv = await startServer({ env: { GRADWATCH_IDLE_RELEASE_S: '1' } });
    servers.push(srv);
    const nanAlerts = async () =>
      (await getJson<{ alerts: Alert[] }>(`${srv.url}/api/v1/runs/rel-idle/alerts?limit=100`)).body.alerts.filter((a) => a.rule === 'nan.detected');
    const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    s.send(hello('rel-idle'));
    await s.next((m) => m.type === 'welcome');
    await sendSteps(s, 1, 40, (step) => (step >= 30 ? 'NaN' : 1 / (step + 1)));
    const [first] = await nanAlerts();
    expect(first).toMatchObject({ status: 'open' });
    s.close();
    await until('the job is gone', () => srv.app.ingest.connectedRuns().size === 0);
    // Not ended: held for the idle time (a job that comes back sooner finds it as it left it).
    await new Promise((r) => setTimeout(r, 300));
    expect(srv.app.ingest.heldRuns()).toBe(1);
    await until('the idle run is released', () => srv.app.ingest.heldRuns() === 0, 5000);

    const t = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    t.send(hello('rel-idle'));
    expect(await t.next((m) => m.type === 'welcome')).toMatchObject({ lastSeq: 40, lastStep: 39 });
    await sendSteps(t, 41, 60, () => 'NaN');
    t.close();
    const after = await nanAlerts();
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ id: first?.id, status: 'open' });
    expect((await lossPoints(srv, 'rel-idle')).length).toBe(60);
  });

  it('a job that comes back within the idle time finds its run still held', async () => {
    const srv = await startServer({ engineFactory: noRules });
    servers.push(srv);
    const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    s.send(hello('rel-back'));
    await s.next((m) => m.type === 'welcome');
    await sendSteps(s, 1, 10, (step) => step);
    s.close();
    await until('the job is gone', () => srv.app.ingest.connectedRuns().size === 0);
    await new Promise((r) => setTimeout(r, 200));
    expect(srv.app.ingest.heldRuns()).toBe(1);
    const t = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    t.send(hello('rel-back'));
    expect(await t.next((m) => m.type === 'welcome')).toMatchObject({ lastSeq: 10, lastStep: 9 });
    await sendSteps(t, 11, 12, (step) => step);
    t.close();
    expect((await lossPoints(srv, 'rel-back')).length).toBe(12);
  });
});
