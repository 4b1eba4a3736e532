/**
 * The verdict end to end: a recorded real PyTorch run (SGD at lr=8, NaN by step 9) streamed to
 * the real server; its diagnosis reaches the job, a live subscriber, REST and the runs list, and
 * its alerts close "ended with the run" when it ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, AlertPage, Diagnosis, RunDiagnosis, RunList } from '@gradwatch/shared';
import { loadRun } from '../../../tools/corpus/replay.js';
import { getJson, RawSocket, removeDir, startServer, type TestServer } from '../helpers.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  await srv.close();
  removeDir(srv.dataDir);
});

describe('diagnosis', () => {
  it('names the cause of a real run to the job, to live subscribers, in REST and in the runs list', async () => {
    const run = loadRun('mlp-sgd-lr8');
    const live = await RawSocket.open(`${srv.wsUrl}/v1/live`);
    const uid = (run.messages[0] as { run: { id: string } }).run.id;
    live.send({ type: 'subscribe', runs: [uid] });
    await live.next((m) => (m as { type: string }).type === 'ready');

    const job = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    const [hello, ...rest] = run.messages;
    job.send(hello);
    await job.next((m) => m.type === 'welcome');
    const ends = rest.filter((m) => m.type === 'end');
    for (const m of rest.filter((x) => x.type !== 'end')) job.send(m);
    const lastSeq = Math.max(...rest.filter((m) => m.type !== 'end').map((m) => m.seq as number));
    await job.ack(lastSeq);

    const told = (await job.next((m) => m.type === 'diagnosis')) as unknown as { diagnoses: Diagnosis[] };
    expect(told.diagnoses[0]?.cause).toBe('lr_too_high');
    const pushed = (await live.next((m) => (m as { type: string }).type === 'diagnosis')) as unknown as { runId: string; diagnoses: Diagnosis[] };
    expect(pushed.runId).toBe(uid);
    expect(pushed.diagnoses[0]?.cause).toBe('lr_too_high');

    const rest1 = (await getJson<RunDiagnosis>(`${srv.url}/api/v1/runs/${uid}/diagnosis`)).body;
    expect(rest1.diagnoses[0]).toMatchObject({ cause: 'lr_too_high', rank: 1 });
    expect(rest1.diagnoses[0]?.advice).toMatch(/learning rate/i);
    expect(rest1.diagnoses.filter((d) => d.severity !== 'info').length).toBeLessThanOrEqual(2);
    const listed = (await getJson<RunList>(`${srv.url}/api/v1/runs?project=corpus`)).body.runs.find((r) => r.id === uid);
    expect(listed?.diagnosis?.cause).toBe('lr_too_high');

    for (const m of ends) job.send(m);
    await job.ack(ends[0]?.seq as number);
    const alerts = (await getJson<AlertPage>(`${srv.url}/api/v1/runs/${uid}/alerts`)).body.alerts;
    expect(alerts.length).toBeGreaterThan(0);
    expect(alerts.every((a: Alert) => a.status === 'resolved' && a.resolvedReason === 'ended with the run')).toBe(true);
    // Still queryable after the end, and still naming the cause.
    expect((await getJson<RunDiagnosis>(`${srv.url}/api/v1/runs/${uid}/diagnosis`)).body.diagnoses[0]?.cause).toBe('lr_too_high');
    job.close();
    live.close();
  });
});
