import type { RunList, RunSummary } from '@gradwatch/shared';
import { describe, expect, it } from 'vitest';
import { fakeLive } from '../testing/fake-ws';
import { RunsStore } from './runs.svelte';

const run = (id: string): RunSummary => ({
  id, project: 'p', name: id, tags: [], status: 'live', lastStep: 1, lastSeq: 1, createdAt: '', lastSeenAt: '', endedAt: null,
  openAlerts: { info: 0, warning: 0, critical: 0 },
  diagnosis: null,
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
});
