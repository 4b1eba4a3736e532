/**
 * PostgreSQL lost mid-run: while the database refuses connections, ingest answers `retry`
 * (nothing is acked that was not committed) and reads answer 503 with a clear message; when it
 * comes back the server reconnects by itself and the client's re-sends land, each value once.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestClient } from '@gradwatch/client';
import { freshDatabase, type FreshDatabase } from '../reliability/pg-database.js';
import { getJson, removeDir, startServer, type TestServer } from '../helpers.js';

const ADMIN_URL = process.env.GRADWATCH_TEST_PG_URL;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!ADMIN_URL)('PostgreSQL unreachable mid-run', () => {
  let db: FreshDatabase;
  let srv: TestServer;
  let admin: postgres.Sql;
  const name = () => new URL(db.url).pathname.slice(1);

  beforeAll(async () => {
    db = await freshDatabase(ADMIN_URL as string, 'gw_outage');
    srv = await startServer({ databaseUrl: db.url });
    admin = postgres(ADMIN_URL as string, { max: 1, onnotice: () => undefined });
  });
  afterAll(async () => {
    await admin.unsafe(`ALTER DATABASE "${name()}" ALLOW_CONNECTIONS true`).catch(() => undefined);
    await admin.end();
    await srv?.close();
    if (srv) removeDir(srv.dataDir);
    await db?.drop();
  });

  it('answers retry and 503 while it is gone, reconnects by itself, and loses nothing acked', async () => {
    const client = new IngestClient({ url: srv.wsUrl, run: { id: 'outage-1', project: 'p', name: 'outage' }, batchSize: 20, flushMs: 5, maxBackoffMs: 400 });
    await client.connect();
    const value = (s: number) => Math.cos(s * 0.11) * 100 + s;
    let step = 0;
    const send = (k: number) => {
      for (let i = 0; i < k; i++, step++) client.step({ step, scalars: { loss: step === 7 ? Number.NaN : value(step) } });
    };
    send(200);
    await client.flush();

    // The database goes away: no new connection, and every open one is cut.
    await admin.unsafe(`ALTER DATABASE "${name()}" ALLOW_CONNECTIONS false`);
    await admin.unsafe(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name()}' AND pid <> pg_backend_pid()`);
    const retriesBefore = client.retries;
    for (let i = 0; i < 40 && client.retries === retriesBefore; i++) {
      send(20);
      await sleep(100);
    }
    expect(client.retries).toBeGreaterThan(retriesBefore);
    expect(client.unacked).toBeGreaterThan(0);
    const read = await getJson<{ message: string }>(`${srv.url}/api/v1/runs/outage-1`);
    expect(read.status).toBe(503);
    expect(read.body.message).toMatch(/database is unreachable/);
    expect((await getJson(`${srv.url}/healthz`)).status).toBe(503);

    // Back: the pool reconnects on its own; everything the client kept is stored once.
    await admin.unsafe(`ALTER DATABASE "${name()}" ALLOW_CONNECTIONS true`);
    send(50);
    await client.flush(30_000);
    expect(client.rejected).toEqual([]);
    const res = await fetch(`${srv.url}/api/v1/runs/outage-1/series/export?name=loss`);
    const pts = ((await res.json()) as { points: Array<[number, number | string]> }).points;
    expect(pts.length).toBe(step);
    expect(pts.every(([s, v], i) => s === i && (i === 7 ? v === 'NaN' : v === value(i)))).toBe(true);
    client.close();
  }, 60_000);
});
