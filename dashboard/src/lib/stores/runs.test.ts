import type { Diagnosis, RunList, RunSummary } from '@gradwatch/shared';
import { describe, expect, it } from 'vitest';
import { fakeLive } from '../testing/fake-ws';
import { RunsStore } from './runs.svelte';

const run = (id: string): RunSummary => ({
  id, project: 'p', name: id, tags: [], status: 'live', lastStep: 1, lastSeq: 1, createdAt: '', lastSeenAt: '', endedAt: null,
  openAlerts: { info: 0, warning: 0, critical: 0 }, diagnosis: null,
});

const dx = (cause: string, rank: number, severity: Diagnosis['severity']): Diagnosis => ({
  cause, title: cause, rank, severity, confidence: 0.9, active: true, firstStep: 3, lastStep: 9, symptoms: [], explains: [], evidence: '', advice: '',
});

describe('RunsStore', () => {
  it('sends the filter to the server and patches rows from run events', async () => {
    const queries: unknown[] = [];
    const store = new RunsStore(fakeLive().live, async (q) => {
      queries.push(q);
      return { runs: [run('a'), run('b')], total: 2, nextCursor: null } satisfies RunList;
    });
    await store.load({ project: 'p', statuses: ['live', 'failed'], search: ' lr ' });
    expect(queries[0]).toEqual({ project: 'p', status: 'live,failed', search: 'lr', limit: 50 });
    store.onRun({ type: 'run', runId: 'b', status: 'completed', lastStep: 99, lastSeenAt: 'later' });
    expect(store.runs[1]).toMatchObject({ status: 'completed', lastStep: 99, lastSeenAt: 'later' });
  });

  it('shows the top warning or critical diagnosis of a live verdict, never an info hint', async () => {
    const store = new RunsStore(fakeLive().live, async () => ({ runs: [run('a')], total: 1, nextCursor: null }));
    await store.load({ project: '', statuses: [], search: '' });
    store.onDiagnosis({ type: 'diagnosis', runId: 'a', diagnoses: [dx('minibatch_too_small', 2, 'info'), dx('lr_too_high', 1, 'critical')] });
    expect(store.runs[0]?.diagnosis?.cause).toBe('lr_too_high');
    store.onDiagnosis({ type: 'diagnosis', runId: 'a', diagnoses: [dx('minibatch_too_small', 1, 'info')] });
    expect(store.runs[0]?.diagnosis).toBeNull();
    // Another run's verdict leaves this row alone.
    store.onDiagnosis({ type: 'diagnosis', runId: 'b', diagnoses: [dx('lr_too_high', 1, 'critical')] });
    expect(store.runs[0]?.diagnosis).toBeNull();
  });
});
