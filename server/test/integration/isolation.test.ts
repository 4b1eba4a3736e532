/**
 * Group commit: one message failing in the database (here a trigger that refuses one series
 * name, a real error raised by the database itself) is rolled back alone, on either backend:
 * the other runs' messages of the same transaction are acked and stored, and its own seq is not
 * consumed, so it is stored once the fault is gone.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, hello, noRules, RawSocket, removeDir, startServer, type TestServer } from '../helpers.js';
import { sqliteOf } from '../sqlite-access.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startServer({ engineFactory: noRules });
});
afterAll(async () => {
  await srv.close();
  removeDir(srv.dataDir);
});

const seriesOf = async (s: TestServer, run: string) =>
  (await getJson<{ series: Array<{ name: string; count: number }> }>(`${s.url}/api/v1/runs/${encodeURIComponent(run)}/series`)).body.series;

async function session(s: TestServer, id: string, project = 'test'): Promise<RawSocket> {
  const sock = await RawSocket.open(`${s.wsUrl}/v1/ingest`);
  sock.send(hello(id, { run: { id, project, name: id } }));
  await sock.next((m) => m.type === 'welcome');
  return sock;
}

/** Blocks this process (and so the in-process server) until every frame sent so far has arrived: the next turn reads them all into one group commit. */
function letFramesArrive(ms = 150): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy-wait on purpose
  }
}

/** A trigger that makes the database refuse a series named "poison", on the server's own backend. */
async function poisonSeries(s: TestServer): Promise<{ remove(): Promise<void>; close(): Promise<void> }> {
  if (s.databaseUrl === null || s.databaseUrl === undefined) {
    const db = sqliteOf(s.app);
    db.exec("CREATE TRIGGER poison_series BEFORE INSERT ON series WHEN NEW.name = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned for the test'); END");
    return { remove: async () => void db.exec('DROP TRIGGER IF EXISTS poison_series'), close: async () => undefined };
  }
  const pg = postgres(s.databaseUrl, { max: 1, onnotice: () => undefined });
  await pg.unsafe(`CREATE FUNCTION poison_series() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'poisoned for the test'; END $$ LANGUAGE plpgsql`);
  await pg.unsafe("CREATE TRIGGER poison_series BEFORE INSERT ON series FOR EACH ROW WHEN (NEW.name = 'poison') EXECUTE FUNCTION poison_series()");
  return {
    remove: async () => void (await pg.unsafe('DROP TRIGGER IF EXISTS poison_series ON series')),
    close: async () => {
      await pg.unsafe('DROP FUNCTION IF EXISTS poison_series()');
      await pg.end();
    },
  };
}

describe('group commit isolates a message that fails in the database', () => {
  it('the other runs of the batch are acked and stored; the failed one is answered to retry and stores nothing', async () => {
    const poison = await poisonSeries(srv);
    try {
      const [a, b, c] = await Promise.all([session(srv, 'iso-a'), session(srv, 'iso-b'), session(srv, 'iso-c')]);
      if (!a || !b || !c) throw new Error('no session');
      for (let i = 1; i <= 15; i++) b.send({ type: 'steps', seq: i, items: [{ step: i, scalars: { loss: i } }] });
      a.send({ type: 'steps', seq: 1, items: [{ step: 0, scalars: { poison: 1, fine: 2 } }] });
      for (let i = 1; i <= 15; i++) c.send({ type: 'steps', seq: i, items: [{ step: i, scalars: { loss: -i } }] });
      letFramesArrive();
      const failed = await a.error(1);
      expect(failed).toMatchObject({ code: expect.stringMatching(/^(internal|retry)$/), seq: 1 });
      await b.ack(15);
      await c.ack(15);
      for (const s of [b, c]) expect(s.received.filter((m) => m.type === 'error')).toEqual([]);
      for (const run of ['iso-b', 'iso-c']) expect((await seriesOf(srv, run)).find((x) => x.name === 'loss')?.count).toBe(15);
      expect(await seriesOf(srv, 'iso-a')).toEqual([]);

      // The seq was not consumed: once the fault is gone the same message is stored.
      await poison.remove();
      a.send({ type: 'steps', seq: 1, items: [{ step: 0, scalars: { poison: 1, fine: 2 } }] });
      await a.ack(1);
      expect((await seriesOf(srv, 'iso-a')).map((x) => x.name).sort()).toEqual(['fine', 'poison']);
      for (const s of [a, b, c]) s.close();
    } finally {
      await poison.remove();
      await poison.close();
    }
  });
});

