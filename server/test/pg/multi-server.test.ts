/**
 * Two servers on one PostgreSQL database (server-pg project only: two servers cannot share a
 * SQLite file). Either accepts any job, and a job that moves to the other server continues from
 * the run's committed lastSeq: the first server's connection is told `replaced` and closed, and
 * what it is still sent is not stored.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunList } from '@gradwatch/shared';
import { freshPgDatabase, getJson, hello, noRules, RawSocket, startServer, type PgDatabase, type TestServer } from '../helpers.js';

let db: PgDatabase | null = null;
const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close().catch(() => undefined);
  await db?.drop();
  db = null;
});

async function twoServers(): Promise<[TestServer, TestServer]> {
  db = await freshPgDatabase();
  const a = await startServer({ databaseUrl: db.url, engineFactory: noRules });
  servers.push(a);
  const b = await startServer({ databaseUrl: db.url, engineFactory: noRules });
  servers.push(b);
  return [a, b];
}

async function lossPoints(srv: TestServer, run: string): Promise<Array<[number, number]>> {
  return (await getJson<{ points: Array<[number, number]> }>(`${srv.url}/api/v1/runs/${run}/series/export?name=loss`)).body.points;
}

describe('two servers on one database', () => {
  it('a job moved to the other server continues from its committed lastSeq; the old connection is replaced', async () => {
    const [a, b] = await twoServers();
    const sa = await RawSocket.open(`${a.wsUrl}/v1/ingest`);
    sa.send(hello('moved-1'));
    expect(await sa.next((m) => m.type === 'welcome')).toMatchObject({ lastSeq: 0 });
    for (let i = 1; i <= 100; i++) sa.send({ type: 'steps', seq: i, items: [{ step: i, scalars: { loss: i } }] });
    await sa.ack(100);

    // The job reconnects elsewhere while its old socket is still open (a proxy failing over).
    const sb = await RawSocket.open(`${b.wsUrl}/v1/ingest`);
    sb.send(hello('moved-1'));
    expect(await sb.next((m) => m.type === 'welcome')).toMatchObject({ lastSeq: 100, lastStep: 100 });
    sa.send({ type: 'steps', seq: 101, items: [{ step: 101, scalars: { loss: 1e6 } }] });
    expect(await sa.next((m) => m.type === 'error')).toMatchObject({ code: 'replaced' });
    await expect.poll(() => sa.closeCode, { timeout: 5_000 }).not.toBeNull();

    for (let i = 101; i <= 200; i++) sb.send({ type: 'steps', seq: i, items: [{ step: i, scalars: { loss: i } }] });
    await sb.ack(200);
    sb.close();

    // Both servers read the same 200 points: the stale 101 from the first server is not among them.
    const want = Array.from({ length: 200 }, (_, i) => [i + 1, i + 1]);
    expect(await lossPoints(a, 'moved-1')).toEqual(want);
    expect(await lossPoints(b, 'moved-1')).toEqual(want);
  });

  it('either server accepts any job, and each lists the runs written through the other', async () => {
    const [a, b] = await twoServers();
    for (const [srv, id] of [[a, 'on-a'], [b, 'on-b']] as const) {
      const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
      s.send(hello(id));
      await s.next((m) => m.type === 'welcome');
      s.send({ type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 1 } }] });
      await s.ack(1);
      s.close();
    }
    for (const srv of [a, b]) {
      const ids = (await getJson<RunList>(`${srv.url}/api/v1/runs?project=test`)).body.runs.map((r) => r.id).sort();
      expect(ids).toEqual(['on-a', 'on-b']);
    }
  });
});
