/**
 * Migration 0007 (PostgreSQL: 0001) added rollup level 3 (windows of 1,024 steps) and fills it in
 * for chunks stored before it. A database from before it must answer every query as it did:
 * here one is made by taking the level and its migration record away (and those of the migrations
 * after it: old-schema.ts), then a server starts on it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { getJson, hello, noRules, RawSocket, removeDir, startServer, tempDir, type TestServer } from '../helpers.js';
import { oldStepIndex, withoutLevel3 } from './old-schema.js';

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close().catch(() => undefined);
});

const value = (s: number): number | string => (s % 997 === 0 ? 'NaN' : Math.sin(s / 300) * (1 + s / 5000));

describe('rollup level 3 on a database stored before it', () => {
  it('is filled in at start: every query answers as before', async () => {
    const dir = tempDir();
    const a = await startServer({ dataDir: dir, engineFactory: noRules });
    const s = await RawSocket.open(`${a.wsUrl}/v1/ingest`);
    s.send(hello('up-1'));
    await s.next((m) => m.type === 'welcome');
    const steps = 20_000;
    for (let seq = 1, st = 0; st < steps; seq++) {
      const items = [];
      for (let i = 0; i < 500; i++, st++) items.push({ step: st, scalars: { loss: value(st), lr: st < 10_000 ? 0.1 : 0.01 } });
      s.send({ type: 'steps', seq, items });
      await s.ack(seq);
    }
    s.close();
    // Buckets of ~1,400-3,300 steps read level 3; a range cut through windows opens some of them.
    const urls = ['maxPoints=6', 'maxPoints=14', 'maxPoints=10&from=1500&to=17777'].map(
      (q) => `/api/v1/runs/up-1/query?series=loss,lr&${q}`,
    );
    const before = await Promise.all(urls.map(async (u) => (await getJson(`${a.url}${u}`)).body));
    const runId = (await a.app.backend.repos.runs.byUid('up-1'))?.id as number;
    await a.close();
    // Migrations run in order: the step index of before 0008 goes back first.
    await oldStepIndex(a, runId, Array.from({ length: steps }, (_, step) => ({ step, time: null, epoch: null, examples: null })));
    expect(await withoutLevel3(a)).toBeGreaterThan(20);

    const b = await startServer({ dataDir: dir, engineFactory: noRules });
    servers.push(b);
    for (const [i, u] of urls.entries()) expect((await getJson(`${b.url}${u}`)).body).toEqual(before[i]);
    const q = await getJson<{ series: Array<{ buckets: Array<{ count: number }> }> }>(`${b.url}${urls[0]}`);
    expect((q.body.series[0]?.buckets ?? []).reduce((n, x) => n + x.count, 0)).toBe(steps);
    removeDir(dir);
  }, 60_000);
});
