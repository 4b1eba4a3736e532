/**
 * Ill-formed strings: a lone UTF-16 surrogate ("\ud800" in JSON) cannot be stored as UTF-8. It
 * used to be acked and read back as U+FFFD under a name never sent; after a restart the same
 * name collided in a UNIQUE index and failed the whole shared transaction, losing other runs'
 * messages. Every string of every message (keys too) must be well-formed, or the message is
 * refused with bad_message naming the field (one message failing in the database, whatever the
 * reason, costs no other run's messages: integration/isolation.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, hello, noRules, RawSocket, removeDir, startServer, type TestServer } from '../helpers.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startServer({ engineFactory: noRules });
});
afterAll(async () => {
  await srv.close();
  removeDir(srv.dataDir);
});

const LONE = '\\ud800';
const seriesOf = async (s: TestServer, run: string) =>
  (await getJson<{ series: Array<{ name: string; count: number }> }>(`${s.url}/api/v1/runs/${encodeURIComponent(run)}/series`)).body.series;

/** Blocks this process (and so the in-process server) until every frame sent so far has arrived: the next turn reads them all into one group commit. */
function letFramesArrive(ms = 150): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy-wait on purpose
  }
}

async function session(s: TestServer, id: string, project = 'test'): Promise<RawSocket> {
  const sock = await RawSocket.open(`${s.wsUrl}/v1/ingest`);
  sock.send(hello(id, { run: { id, project, name: id } }));
  await sock.next((m) => m.type === 'welcome');
  return sock;
}


describe('ill-formed strings are refused everywhere, naming the field', () => {
  it.each([
    ['run name', `{"type":"hello","protocol":1,"run":{"id":"s-h1","project":"test","name":"a${LONE}"}}`, '/run/name'],
    ['tag', `{"type":"hello","protocol":1,"run":{"id":"s-h2","project":"test","name":"n","tags":["ok","${LONE}"]}}`, '/run/tags/1'],
    ['config key', `{"type":"hello","protocol":1,"run":{"id":"s-h3","project":"test","name":"n","config":{"${LONE}":1}}}`, '/run/config'],
    ['nested config value', `{"type":"hello","protocol":1,"run":{"id":"s-h4","project":"test","name":"n","config":{"opt":{"kind":["adam","\\udfff"]}}}}`, '/run/config/opt/kind/1'],
    ['framework', `{"type":"hello","protocol":1,"run":{"id":"s-h5","project":"test","name":"n","framework":"${LONE}x"}}`, '/run/framework'],
    ['host', `{"type":"hello","protocol":1,"run":{"id":"s-h6","project":"test","name":"n","host":"\\udc00\\ud800"}}`, '/run/host'],
  ])('hello: %s', async (_what, frame, path) => {
    const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    s.send(frame);
    const e = await s.error();
    expect(e).toMatchObject({ code: 'bad_message' });
    expect((e as { message: string }).message).toContain(path);
    expect((e as { message: string }).message).toMatch(/surrogate/);
    // Nothing was registered.
    const id = (JSON.parse(frame) as { run: { id: string } }).run.id;
    expect((await getJson(`${srv.url}/api/v1/runs/${id}`)).status).toBe(404);
    s.close();
  });

  it.each([
    ['scalar name', `{"type":"steps","seq":1,"items":[{"step":0,"scalars":{"${LONE}":1}}]}`, '/items/0/scalars'],
    ['layer name', `{"type":"steps","seq":1,"items":[{"step":0,"scalars":{},"layers":{"fc${LONE}":{"param":{"mean":0,"std":1,"meanAbs":0,"min":0,"max":0}}}}]}`, '/items/0/layers'],
    ['eval metric', `{"type":"eval","seq":1,"step":0,"split":"val","metrics":{"acc${LONE}":1}}`, '/metrics'],
    ['histogram layer', `{"type":"hist","seq":1,"step":0,"layer":"${LONE}","of":"param","edges":[0,1],"counts":[1]}`, '/layer'],
    ['model layer name', `{"type":"model","seq":1,"layers":[{"name":"a${LONE}","kind":"Linear","params":1}]}`, '/layers/0/name'],
    ['model layer kind', `{"type":"model","seq":1,"layers":[{"name":"a","kind":"${LONE}","params":1}]}`, '/layers/0/kind'],
    ['optimizer field', `{"type":"model","seq":1,"layers":[],"optimizer":{"type":"adam","${LONE}":1}}`, '/optimizer'],
  ])('%s: refused, nothing stored, the seq consumed, the socket keeps serving', async (what, frame, path) => {
    const run = `s-${what.replace(/\s/g, '-')}`;
    const s = await session(srv, run);
    s.send(frame);
    const e = await s.error(1);
    expect(e).toMatchObject({ code: 'bad_message', seq: 1 });
    expect((e as { message: string }).message).toContain(path);
    s.send({ type: 'steps', seq: 2, items: [{ step: 0, scalars: { loss: 1 } }] });
    await s.ack(2);
    expect((await seriesOf(srv, run)).map((x) => x.name)).toEqual(['loss']);
    s.close();
  });

  it('live: a subscribe with a lone surrogate in a run id or series name is refused', async () => {
    const s = await RawSocket.open(`${srv.wsUrl}/v1/live`);
    s.send(`{"type":"subscribe","runs":["r${LONE}"]}`);
    expect(await s.error()).toMatchObject({ code: 'bad_message', message: expect.stringMatching(/\/runs\/0.*surrogate/) });
    s.send(`{"type":"subscribe","runs":["r"],"series":["loss","\\udfffx"]}`);
    expect(await s.error()).toMatchObject({ code: 'bad_message', message: expect.stringMatching(/\/series\/1/) });
    s.close();
  });

  it('well-formed astral characters (a surrogate pair, escaped or raw) are stored and read back under the name sent', async () => {
    const s = await session(srv, 's-astral');
    s.send('{"type":"steps","seq":1,"items":[{"step":0,"scalars":{"\\ud83d\\udd25 loss":1,"🧪 acc":2}}]}');
    await s.ack(1);
    expect((await seriesOf(srv, 's-astral')).map((x) => x.name).sort()).toEqual(['🔥 loss', '🧪 acc'].sort());
    s.close();
  });
});

describe('the reported scenario: a poison name, a restart, and another project in the same group commit', () => {
  it('the poison is refused every time, and the other run loses nothing', async () => {
    const dir = srv.dataDir;
    const poison = `{"type":"steps","seq":1,"items":[{"step":0,"scalars":{"${LONE}":1}}]}`;
    const a = await session(srv, 'poison-a', 'p-one');
    a.send(poison);
    expect(await a.error(1)).toMatchObject({ code: 'bad_message' });
    a.close();
    await srv.close();
    srv = await startServer({ dataDir: dir, engineFactory: noRules });

    const a2 = await session(srv, 'poison-a', 'p-one');
    const b = await session(srv, 'other-b', 'p-two');
    for (let i = 1; i <= 30; i++) b.send({ type: 'steps', seq: i, items: [{ step: i, scalars: { loss: i } }] });
    a2.send(poison.replace('"seq":1', '"seq":2'));
    letFramesArrive();
    expect(await a2.error(2)).toMatchObject({ code: 'bad_message' });
    await b.ack(30);
    expect(b.received.filter((m) => m.type === 'error')).toEqual([]);
    expect((await seriesOf(srv, 'other-b')).find((x) => x.name === 'loss')?.count).toBe(30);
    expect(await seriesOf(srv, 'poison-a')).toEqual([]);
    a2.close();
    b.close();
  });
});

describe('NUL characters, which PostgreSQL text cannot hold, are refused as surrogates are', () => {
  it.each([
    ['run name', `{"type":"hello","protocol":1,"run":{"id":"n-h1","project":"test","name":"a\\u0000b"}}`, '/run/name'],
    ['config key', `{"type":"hello","protocol":1,"run":{"id":"n-h2","project":"test","name":"n","config":{"k\\u0000":1}}}`, '/run/config'],
  ])('hello: %s', async (_what, frame, path) => {
    const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    s.send(frame);
    const e = await s.error();
    expect(e).toMatchObject({ code: 'bad_message' });
    expect((e as { message: string }).message).toContain(path);
    expect((e as { message: string }).message).toMatch(/NUL/);
    expect((await getJson(`${srv.url}/api/v1/runs/${(JSON.parse(frame) as { run: { id: string } }).run.id}`)).status).toBe(404);
    s.close();
  });

  it('a scalar name with a NUL: refused, its seq consumed, the socket keeps serving', async () => {
    const s = await session(srv, 'n-scalar');
    s.send('{"type":"steps","seq":1,"items":[{"step":0,"scalars":{"lo\\u0000ss":1}}]}');
    expect(await s.error(1)).toMatchObject({ code: 'bad_message', seq: 1 });
    s.send({ type: 'steps', seq: 2, items: [{ step: 0, scalars: { loss: 1 } }] });
    await s.ack(2);
    expect((await seriesOf(srv, 'n-scalar')).map((x) => x.name)).toEqual(['loss']);
    s.close();
  });

  it('a REST body with a NUL is a 400 naming the field; a lookup by a name with one finds nothing', async () => {
    const res = await fetch(`${srv.url}/api/v1/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"scope":"read","name":"x\\u0000"}' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/body\/name.*NUL/);
    expect((await fetch(`${srv.url}/api/v1/runs/ra%00`)).status).toBe(404);
  });
});

describe('REST bodies and queries', () => {
  it('refuse lone surrogates with a 400 naming the field, and store nothing', async () => {
    const srv = await startServer();
    try {
      const post = (path: string, body: string) => fetch(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const token = await post('/api/v1/tokens', '{"scope":"read","name":"x\\ud800"}');
      expect(token.status).toBe(400);
      expect(((await token.json()) as { message: string }).message).toMatch(/body\/name.*surrogate/);
      expect(((await (await fetch(`${srv.url}/api/v1/tokens`)).json()) as { tokens: unknown[] }).tokens).toEqual([]);
      const hook = await post('/api/v1/projects/p/webhooks', '{"url":"https://example.com/\\udc00"}');
      expect(hook.status).toBe(400);
      expect((await fetch(`${srv.url}/api/v1/runs?search=%ED%A0%80`)).status).toBeLessThan(500);
    } finally {
      await srv.close();
      removeDir(srv.dataDir);
    }
  });
});
