import type { Alert, Diagnosis } from '@gradwatch/shared';
import { describe, expect, it } from 'vitest';
import { fakeLive } from '../testing/fake-ws';
import { RunDiagnosisStore } from './diagnosis.svelte';
import { RunVerdicts } from './run-verdicts.svelte';

const dx = (cause: string, severity: Diagnosis['severity'] = 'critical', rank = 1): Diagnosis => ({
  cause, title: cause, rank, severity, confidence: 0.8, active: true, firstStep: 5, lastStep: 9, symptoms: [], explains: [], evidence: '', advice: `fix ${cause}`,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fetch the test answers by hand, to order it against live messages. */
function deferredFetch() {
  const calls: Array<{ id: string; answer: (ds: Diagnosis[]) => void }> = [];
  const fetch = (id: string) => new Promise<Diagnosis[]>((answer) => calls.push({ id, answer }));
  return { calls, fetch };
}

describe('RunDiagnosisStore', () => {
  it('subscribes to the run, fetches once the server holds it, then follows live verdicts of that run only', async () => {
    const f = fakeLive({ autoReady: true });
    const { calls, fetch } = deferredFetch();
    const store = new RunDiagnosisStore(f.live, fetch);
    const stop = store.open('r1');
    await sleep(10);
    expect(calls).toHaveLength(0);
    f.sockets[0]?.open();
    await sleep(10);
    expect(f.sockets[0]?.sent).toEqual([{ type: 'subscribe', runs: ['r1'], series: [] }]);
    expect(calls.map((c) => c.id)).toEqual(['r1']);
    calls[0]?.answer([dx('batch', 'info')]);
    await sleep(0);
    expect(store.loaded).toBe(true);
    expect(store.verdict).toEqual([]);
    expect(store.hints.map((d) => d.cause)).toEqual(['batch']);

    f.sockets[0]?.recv({ type: 'diagnosis', runId: 'r1', diagnoses: [dx('batch', 'info', 2), dx('lr_too_high')] });
    expect(store.verdict.map((d) => d.cause)).toEqual(['lr_too_high']);
    f.sockets[0]?.recv({ type: 'diagnosis', runId: 'other', diagnoses: [] });
    expect(store.diagnoses).toHaveLength(2);
    stop();
    f.sockets[0]?.recv({ type: 'diagnosis', runId: 'r1', diagnoses: [] });
    expect(store.diagnoses).toHaveLength(2);
  });

  it('keeps a live verdict that arrives while a fetch is out over the older answer', async () => {
    const f = fakeLive({ autoReady: true });
    const { calls, fetch } = deferredFetch();
    const store = new RunDiagnosisStore(f.live, fetch);
    store.open('r1');
    f.sockets[0]?.open();
    await sleep(10);
    f.sockets[0]?.recv({ type: 'diagnosis', runId: 'r1', diagnoses: [dx('numerical_nan')] });
    calls[0]?.answer([]);
    await sleep(0);
    expect(store.verdict.map((d) => d.cause)).toEqual(['numerical_nan']);
  });

  it('refetches after a reconnect (a verdict may have changed meanwhile)', async () => {
    const f = fakeLive({ autoReady: true });
    const { calls, fetch } = deferredFetch();
    const store = new RunDiagnosisStore(f.live, fetch);
    store.open('r1');
    f.sockets[0]?.open();
    await sleep(10);
    calls[0]?.answer([]);
    f.sockets[0]?.close();
    await sleep(600);
    f.sockets[1]?.open();
    await sleep(10);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    calls.at(-1)?.answer([dx('lr_too_high')]);
    await sleep(0);
    expect(store.verdict.map((d) => d.cause)).toEqual(['lr_too_high']);
  });
});

describe('RunVerdicts', () => {
  const alert = (runId: string): Alert => ({
    id: 1, runId, project: 'p', rule: 'nan.detected', section: '', severity: 'critical', status: 'open', acknowledged: false,
    muted: false, firstStep: 1, lastStep: 1, evidence: {}, advice: '', createdAt: '', updatedAt: '',
  });

  it('fetches each run once, takes live verdicts of known runs, and refetches after a new alert', async () => {
    const f = fakeLive({ autoReady: true });
    const names: string[] = [];
    const diag = deferredFetch();
    const v = new RunVerdicts(f.live, { name: async (id) => (names.push(id), `name of ${id}`), diagnoses: diag.fetch });
    const stop = v.follow();
    v.want(['a', 'b', 'a']);
    v.want(['a']);
    await sleep(0);
    expect(names).toEqual(['a', 'b']);
    expect(v.runs.get('a')?.name).toBe('name of a');
    diag.calls[0]?.answer([dx('lr_too_high')]);
    await sleep(0);
    expect(v.runs.get('a')?.diagnoses.map((d) => d.cause)).toEqual(['lr_too_high']);

    f.live.subscribe(['*']);
    f.sockets[0]?.open();
    f.sockets[0]?.recv({ type: 'diagnosis', runId: 'b', diagnoses: [dx('bad_init')] });
    f.sockets[0]?.recv({ type: 'diagnosis', runId: 'unknown', diagnoses: [dx('bad_init')] });
    expect(v.runs.get('b')?.diagnoses.map((d) => d.cause)).toEqual(['bad_init']);
    expect(v.runs.has('unknown')).toBe(false);
    // b's first fetch answers late: the live list stays.
    diag.calls[1]?.answer([]);
    await sleep(0);
    expect(v.runs.get('b')?.diagnoses.map((d) => d.cause)).toEqual(['bad_init']);

    f.sockets[0]?.recv({ type: 'alert', alert: alert('a') });
    await sleep(1100);
    expect(diag.calls.map((c) => c.id)).toEqual(['a', 'b', 'a']);
    stop();
  });
});
