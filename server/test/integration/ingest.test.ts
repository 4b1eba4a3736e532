import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestClient } from '@gradwatch/client';
import { bucketColumns, type QueryColumns, type QueryResult, type RunDetail } from '@gradwatch/shared';
import { getJson, hello, noRules, RawSocket, removeDir, startServer, syntheticStep, type TestServer } from '../helpers.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startServer({ engineFactory: noRules });
});
afterAll(async () => {
  await srv.close();
  removeDir(srv.dataDir);
});

describe('handshake and sequencing', () => {
  it('welcomes a new run with lastSeq 0 and the limits', async () => {
    const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    s.send(hello('hs-1'));
    const w = await s.next((m) => m.type === 'welcome');
    expect(w).toMatchObject({ type: 'welcome', runId: 'hs-1', lastSeq: 0, limits: { maxFrameBytes: 4 * 1024 * 1024 } });
    s.close();
  });

  it('accepts model after hello and serves it in the run detail', async () => {
    const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    s.send(hello('hs-2', { run: { id: 'hs-2', project: 'test', name: 'model run', config: { lr: 0.01 } } }));
    await s.next((m) => m.type === 'welcome');
    const layers = [{ name: 'fc1', kind: 'Linear', params: 100, fanIn: 9, fanOut: 10, activation: 'relu' }];
    s.send({ type: 'model', seq: 1, layers, loss: 'CrossEntropyLoss', optimizer: { type: 'Adam', lr: 0.01 } });
    await s.ack(1);
    const { body } = await getJson<RunDetail>(`${srv.url}/api/v1/runs/hs-2`);
    expect(body.model?.layers).toEqual(layers);
    expect(body.model?.loss).toBe('CrossEntropyLoss');
    expect(body.config).toEqual({ lr: 0.01 });
    expect(body.lastSeq).toBe(1);
    s.close();
  });

  it('reports lastSeq on reconnect, acks re-sends without storing them, and answers gaps', async () => {
    const a = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    a.send(hello('seq-1'));
    await a.next((m) => m.type === 'welcome');
    for (let i = 1; i <= 3; i++) a.send({ type: 'steps', seq: i, items: [{ step: i, scalars: { loss: i } }] });
    await a.ack(3);
    a.close();

    const b = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    b.send(hello('seq-1'));
    expect(await b.next((m) => m.type === 'welcome')).toMatchObject({ lastSeq: 3, lastStep: 3 });
    b.send({ type: 'steps', seq: 2, items: [{ step: 2, scalars: { loss: 999 } }] });
    await b.ack(2);
    b.send({ type: 'steps', seq: 6, items: [{ step: 6, scalars: { loss: 6 } }] });
    expect(await b.error(6)).toMatchObject({ code: 'gap', expected: 4 });
    b.send({ type: 'steps', seq: 4, items: [{ step: 4, scalars: { loss: 4 } }] });
    await b.ack(4);
    const { body } = await getJson<{ points: unknown[] }>(`${srv.url}/api/v1/runs/seq-1/series/export?name=loss`);
    expect(body.points).toEqual([[1, 1], [2, 2], [3, 3], [4, 4]]);
    b.close();
  });

  it('a second connection for the same run takes over and the first is told why', async () => {
    const a = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    a.send(hello('take-1'));
    await a.next((m) => m.type === 'welcome');
    const b = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    b.send(hello('take-1'));
    await b.next((m) => m.type === 'welcome');
    expect(await a.next((m) => m.type === 'error')).toMatchObject({ code: 'replaced' });
    b.close();
  });
});

describe('volume and exact read-back', () => {
  it('streams 10,000 steps x 20 layers and reads every value back exactly', async () => {
    const c = new IngestClient({ url: srv.wsUrl, run: { id: 'vol-1', project: 'test', name: 'volume' }, batchSize: 50 });
    await c.connect();
    const steps = 10_000;
    for (let s = 0; s < steps; s++) c.step(syntheticStep(s, 20));
    await c.end('completed', 120_000);
    c.close();
    expect(c.rejected).toEqual([]);

    const { body: list } = await getJson<{ series: Array<{ name: string; count: number; firstStep: number; lastStep: number }> }>(
      `${srv.url}/api/v1/runs/vol-1/series`,
    );
    // 20 layers x 4 stats x 5 fields, 20 update ratios, loss, lr
    expect(list.series.length).toBe(20 * 4 * 5 + 20 + 2);
    for (const s of list.series) expect(s).toMatchObject({ count: steps, firstStep: 0, lastStep: steps - 1 });

    const check = ['loss', 'layer/layer0/param/mean', 'layer/layer19/act/max', 'layer/layer7/update/meanAbs', 'layer/layer3/grad/std'];
    for (const name of check) {
      const { body } = await getJson<{ points: Array<[number, number]> }>(
        `${srv.url}/api/v1/runs/vol-1/series/export?name=${encodeURIComponent(name)}`,
      );
      expect(body.points.length).toBe(steps);
      const [, layer, of, field] = name.split('/');
      for (let s = 0; s < steps; s += 1) {
        const item = syntheticStep(s, 20);
        const want = name === 'loss' ? item.scalars.loss : (item.layers?.[layer as string] as Record<string, Record<string, number>>)[of as string]?.[field as string];
        const got = body.points[s] as [number, number];
        if (got[0] !== s || got[1] !== want) throw new Error(`${name} step ${s}: got ${JSON.stringify(got)}, want ${want}`);
      }
    }
    const { body: run } = await getJson<RunDetail>(`${srv.url}/api/v1/runs/vol-1`);
    expect(run).toMatchObject({ status: 'completed', lastStep: steps - 1, pointCount: steps });
  }, 180_000);

  it('takes tensor stats without min and max (a source with the moments only), not without meanAbs', async () => {
    const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    s.send(hello('moments-1'));
    await s.next((m) => m.type === 'welcome');
    const moments = { mean: 0, std: 0.1, meanAbs: 0.08 };
    s.send({ type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 1 }, layers: { fc: { param: moments, update: { ...moments, meanAbs: 8e-5 } } } }] });
    await s.ack(1);
    s.send({ type: 'steps', seq: 2, items: [{ step: 1, scalars: { loss: 1 }, layers: { fc: { param: { mean: 0, std: 0.1 } } } }] });
    const e = (await s.next((m) => 'seq' in m && m.seq === 2)) as { type: string; code?: string };
    expect(e).toMatchObject({ type: 'error', code: 'bad_message' });
    const names = (await getJson<{ series: Array<{ name: string }> }>(`${srv.url}/api/v1/runs/moments-1/series`)).body.series.map((x) => x.name).sort();
    expect(names).toEqual(['layer/fc/param/mean', 'layer/fc/param/meanAbs', 'layer/fc/param/std', 'layer/fc/update/mean', 'layer/fc/update/meanAbs', 'layer/fc/update/std', 'layer/fc/update_ratio', 'loss']);
    s.close();
  });

  it('keeps NaN and Infinity as markers with the right counts', async () => {
    const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    s.send(hello('nan-1'));
    await s.next((m) => m.type === 'welcome');
    const g = (norm: number | string) => ({ mean: 0, std: 1, meanAbs: 1, min: -1, max: 1, norm });
    const items = [
      { step: 0, scalars: { loss: 1.5 }, layers: { fc: { grad: g(1) } } },
      { step: 1, scalars: { loss: 'NaN' }, layers: { fc: { grad: g('Infinity') } } },
      { step: 2, scalars: { loss: 'NaN' }, layers: { fc: { grad: g('-Infinity') } } },
      { step: 3, scalars: { loss: 0.5 }, layers: { fc: { grad: g('Infinity') } } },
    ];
    s.send({ type: 'steps', seq: 1, items });
    await s.ack(1);
    const { body } = await getJson<QueryResult>(`${srv.url}/api/v1/runs/nan-1/query?series=loss,layer/fc/grad/norm&maxPoints=1`);
    const [loss, norm] = body.series;
    expect(loss).toMatchObject({ firstNonFiniteStep: 1, buckets: [{ fromStep: 0, toStep: 3, count: 4, min: 0.5, max: 1.5, last: 0.5, nan: 2, posInf: 0, negInf: 0 }] });
    expect(norm).toMatchObject({ firstNonFiniteStep: 1, buckets: [{ count: 4, min: 1, max: 1, last: 'Infinity', nan: 0, posInf: 2, negInf: 1 }] });
    // The columns form: the same buckets as parallel arrays, markers and null extremes included.
    const q = 'series=loss,layer/fc/grad/norm&maxPoints=2';
    const rows = (await getJson<QueryResult>(`${srv.url}/api/v1/runs/nan-1/query?${q}`)).body;
    const cols = await getJson<QueryColumns>(`${srv.url}/api/v1/runs/nan-1/query/columns?${q}`);
    expect(cols.status).toBe(200);
    expect(cols.body).toEqual({ ...rows, series: rows.series.map((r) => bucketColumns(r.name, r.firstNonFiniteStep, r.buckets)) });
    expect(cols.body.series[1]).toEqual({
      name: 'layer/fc/grad/norm', firstNonFiniteStep: 1, fromStep: [0, 2], toStep: [1, 3], count: [2, 2],
      min: [1, null], max: [1, null], last: ['Infinity', 'Infinity'], nan: [0, 0], posInf: [1, 1], negInf: [0, 1],
    });
    const exp = await getJson<{ points: unknown[] }>(`${srv.url}/api/v1/runs/nan-1/series/export?name=loss`);
    expect(exp.body.points).toEqual([[0, 1.5], [1, 'NaN'], [2, 'NaN'], [3, 0.5]]);
    const csv = await fetch(`${srv.url}/api/v1/runs/nan-1/series/export?name=layer/fc/grad/norm&format=csv`).then((r) => r.text());
    expect(csv).toBe('step,value\n0,1\n1,Infinity\n2,-Infinity\n3,Infinity\n');
    s.close();
  });
});
