import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, hello, noRules, RawSocket, removeDir, startServer, type TestServer } from '../helpers.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startServer({ engineFactory: noRules, env: { GRADWATCH_MAX_FRAME_BYTES: '65536' } });
});
afterAll(async () => {
  await srv.close();
  removeDir(srv.dataDir);
});

const exportLoss = async (run: string) =>
  (await getJson<{ points: unknown[] }>(`${srv.url}/api/v1/runs/${run}/series/export?name=loss`)).body.points;

async function session(id: string): Promise<RawSocket> {
  const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
  s.send(hello(id));
  await s.next((m) => m.type === 'welcome');
  return s;
}

describe('bad input gets a clear error, changes nothing, and the socket keeps serving', () => {
  it('answers messages before hello with no_hello', async () => {
    const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    s.send({ type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 1 } }] });
    expect(await s.error()).toMatchObject({ code: 'no_hello' });
    s.send(hello('bad-0'));
    expect(await s.next((m) => m.type === 'welcome')).toMatchObject({ lastSeq: 0 });
    s.close();
  });

  it('answers malformed JSON, non-objects and unknown types without consuming a seq', async () => {
    const s = await session('bad-1');
    s.send('{"type":"steps", "seq": 1, items: [');
    expect(await s.error()).toMatchObject({ code: 'bad_json' });
    s.send('[1,2,3]');
    expect(await s.error()).toMatchObject({ code: 'bad_message' });
    s.send({ type: 'launch_missiles', seq: 1 });
    expect(await s.error()).toMatchObject({ code: 'unknown_type' });
    s.send({ type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 1 } }] });
    await s.ack(1);
    expect(await exportLoss('bad-1')).toEqual([[0, 1]]);
    s.close();
  });

  it('rejects wrong types with the path of the problem, consumes the seq, and stores nothing of it', async () => {
    const s = await session('bad-2');
    s.send({ type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 'high' } }] });
    const e = await s.error(1);
    expect(e).toMatchObject({ code: 'bad_message', seq: 1 });
    expect((e as { message: string }).message).toContain('/items/0/scalars/loss');
    s.send({ type: 'steps', seq: 2, items: [{ step: 0, scalars: { loss: 2 } }] });
    await s.ack(2);
    s.send({ type: 'steps', seq: 3, items: [{ step: 1, scalars: { loss: 3 }, layers: { fc: { grad: { mean: 0 } } } }] });
    expect(await s.error(3)).toMatchObject({ code: 'bad_message' });
    expect(await exportLoss('bad-2')).toEqual([[0, 2]]);
    const series = await getJson<{ series: Array<{ name: string }> }>(`${srv.url}/api/v1/runs/bad-2/series`);
    expect(series.body.series.map((x) => x.name)).toEqual(['loss']);
    s.close();
  });

  it('rejects decreasing or repeated steps, within and across messages', async () => {
    const s = await session('bad-3');
    s.send({ type: 'steps', seq: 1, items: [{ step: 5, scalars: { loss: 5 } }] });
    await s.ack(1);
    s.send({ type: 'steps', seq: 2, items: [{ step: 4, scalars: { loss: 4 } }] });
    expect(await s.error(2)).toMatchObject({ code: 'step_order' });
    s.send({ type: 'steps', seq: 3, items: [{ step: 6, scalars: { loss: 6 } }, { step: 6, scalars: { loss: 6.5 } }] });
    expect(await s.error(3)).toMatchObject({ code: 'step_order' });
    s.send({ type: 'steps', seq: 4, items: [{ step: 7, scalars: { loss: 7 } }] });
    await s.ack(4);
    expect(await exportLoss('bad-3')).toEqual([[5, 5], [7, 7]]);
    s.close();
  });

  it('rejects reserved scalar names and histograms whose edges do not fit the counts', async () => {
    const s = await session('bad-4');
    s.send({ type: 'steps', seq: 1, items: [{ step: 0, scalars: { 'layer/x/param/mean': 1 } }] });
    expect(await s.error(1)).toMatchObject({ code: 'bad_message' });
    s.send({ type: 'hist', seq: 2, step: 0, layer: 'fc', of: 'param', edges: [0, 1], counts: [1, 2] });
    expect(await s.error(2)).toMatchObject({ code: 'bad_message' });
    s.send({ type: 'hist', seq: 3, step: 0, layer: 'fc', of: 'param', edges: [0, 1, 2], counts: [1, 2] });
    await s.ack(3);
    const h = await getJson<{ histograms: unknown[] }>(`${srv.url}/api/v1/runs/bad-4/histograms`);
    expect(h.body.histograms).toEqual([{ step: 0, layer: 'fc', of: 'param', edges: [0, 1, 2], counts: [1, 2] }]);
    s.close();
  });

  it('answers an oversized frame with an error before closing, and stores nothing', async () => {
    const s = await session('bad-5');
    const big = { type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 1 }, pad: 'x'.repeat(70_000) }] };
    s.send(big);
    expect(await s.error()).toMatchObject({ code: 'frame_too_large' });
    await new Promise((r) => setTimeout(r, 200));
    expect(s.closeCode).toBe(1009);
    const again = await session('bad-5');
    again.send({ type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 1 } }] });
    await again.ack(1);
    expect(await exportLoss('bad-5')).toEqual([[0, 1]]);
    again.close();
  });

  it('refuses an unsupported protocol version', async () => {
    const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    s.send({ ...hello('bad-6'), protocol: 2 });
    expect(await s.error()).toMatchObject({ code: 'protocol' });
    expect((await getJson(`${srv.url}/api/v1/runs/bad-6`)).status).toBe(404);
  });

  it('answers bad REST parameters with 400 and unknown things with 404', async () => {
    expect((await getJson(`${srv.url}/api/v1/runs?status=sleeping`)).status).toBe(400);
    expect((await getJson(`${srv.url}/api/v1/runs?limit=0`)).status).toBe(400);
    expect((await getJson(`${srv.url}/api/v1/runs?cursor=garbage`)).status).toBe(400);
    expect((await getJson(`${srv.url}/api/v1/runs/nope`)).status).toBe(404);
    expect((await getJson(`${srv.url}/api/v1/runs/bad-1/query?series=nope`)).status).toBe(404);
    expect((await getJson(`${srv.url}/api/v1/runs/bad-1/query?series=loss&maxPoints=abc`)).status).toBe(400);
    expect((await getJson(`${srv.url}/api/v1/runs/bad-1/query?series=loss&from=10&to=1`)).status).toBe(400);
    expect((await getJson(`${srv.url}/api/v1/runs/bad-1/query/columns?series=nope`)).status).toBe(404);
    expect((await getJson(`${srv.url}/api/v1/runs/bad-1/query/columns?series=loss&maxPoints=abc`)).status).toBe(400);
    expect((await getJson(`${srv.url}/api/v1/runs/bad-1/query/columns?series=loss&from=10&to=1`)).status).toBe(400);
    const r = await getJson<{ message: string }>(`${srv.url}/api/v1/nothing-here`);
    expect(r.status).toBe(404);
    expect(r.body.message).toContain('/api/v1/nothing-here');
  });

  it('describes every REST route in OpenAPI at /docs/json', async () => {
    const { status, body } = await getJson<{ paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }>(`${srv.url}/docs/json`);
    expect(status).toBe(200);
    for (const p of ['/api/v1/runs', '/api/v1/runs/{id}', '/api/v1/runs/{id}/query', '/api/v1/alerts', '/api/v1/rules', '/healthz']) {
      expect(Object.keys(body.paths)).toContain(p);
    }
    expect(Object.keys(body.paths['/api/v1/runs/{id}']?.get?.responses ?? {})).toEqual(expect.arrayContaining(['200', '404']));
  });
});
