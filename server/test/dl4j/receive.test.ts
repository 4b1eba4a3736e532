/**
 * POST /remoteReceive end to end: DL4J messages built by the test encoder are posted to a real
 * server on a real SQLite file, and read back through the REST API value for value.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, Histogram, QueryResult, RunDetail, SeriesInfo } from '@gradwatch/shared';
import { runIdOf } from '../../src/dl4j/map-static.js';
import { getJson, removeDir, startServer, type TestServer } from '../helpers.js';
import { metaData, post, reportSpec, staticInfo, update } from './client.js';
import { tensorStats, type ReportSpec } from './reports.js';
import { A, encodeUpdate, envelope, G, P, U } from './sbe-encoder.js';
import { buildUpdate } from './reports.js';

let srv: TestServer;
const T0 = 1_750_000_000_000;

beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  await srv.close();
  removeDir(srv.dataDir);
});

const api = <T>(path: string) => getJson<T>(`${srv.url}/api/v1${path}`);
const points = async (run: string, name: string) =>
  (await api<{ points: Array<[number, number | string]> }>(`/runs/${run}/series/export?name=${encodeURIComponent(name)}`)).body.points;

describe('a DL4J session through /remoteReceive', () => {
  const session = '6f0c2b7e-1d2a-4c3b-9e8f-0a1b2c3d4e5f';
  const worker = 'a1b2c3d4_1';
  const run = runIdOf(session, worker);
  const ITS = 12;

  it('stores the init (sent twice, as DL4J does) and every update, answering 200 once committed', async () => {
    expect(await post(srv.url, metaData(session, worker, T0))).toMatchObject({ status: 200, body: { runId: run, stored: 0 } });
    expect(await post(srv.url, staticInfo(session, worker, { time: T0 }))).toMatchObject({ status: 200, body: { runId: run, stored: 1 } });
    for (let it = 0; it < ITS; it++) {
      // DL4J's second init comes with iteration 1; iterations 0 and 1 share one millisecond.
      if (it === 1) {
        expect(await post(srv.url, metaData(session, worker, T0 + 5))).toMatchObject({ status: 200, body: { stored: 0 } });
        expect(await post(srv.url, staticInfo(session, worker, { time: T0 + 5 }))).toMatchObject({ status: 200, body: { stored: 0, note: 'model unchanged' } });
      }
      const time = T0 + 1000 + (it === 0 ? 1 : it) * 10;
      const r = await post(srv.url, update(reportSpec(session, worker, it, time)));
      expect(r, JSON.stringify(r.body)).toMatchObject({ status: 200, body: { runId: run, step: it } });
      expect(r.body.stored).toBe(1 + 7); // one steps message, seven histograms
    }
  });

  it('makes the session a run of project dl4j with its model', async () => {
    const { body } = await api<RunDetail>(`/runs/${run}`);
    expect(body).toMatchObject({ id: run, project: 'dl4j', name: session, framework: 'dl4j', host: 'trainbox', lastStep: ITS - 1, tags: ['dl4j'] });
    expect(body.config).toMatchObject({ 'dl4j.sessionId': session, 'dl4j.workerId': worker, l2: 1e-4, 'dl4j.numParams': 67 });
    expect(body.model).toEqual({
      layers: [
        { name: '0', kind: 'DenseLayer', activation: 'ReLU', init: 'Xavier', fanIn: 4, fanOut: 8, params: 40 },
        { name: '1', kind: 'OutputLayer', activation: 'Softmax', init: 'Xavier', fanIn: 8, fanOut: 3, params: 27 },
      ],
      loss: 'MCXENT',
      optimizer: { type: 'Adam', lr: 0.001 },
    });
  });

  it('reads back score, layer stats, update ratio, inputs and sys figures value for value', async () => {
    const specs = Array.from({ length: ITS }, (_, it) => reportSpec(session, worker, it, 0));
    const arr = (it: number, k: string, kind: 'P' | 'G' | 'U') => specs[it]?.params[k]?.[kind] as number[];
    expect(await points(run, 'loss')).toEqual(specs.map((s, it) => [it, s.score]));
    const pmm = specs.map((_, it) => tensorStats(arr(it, '0_W', 'P'), P).meanAbs);
    const umm = specs.map((_, it) => tensorStats(arr(it, '0_W', 'U'), U).meanAbs);
    expect(await points(run, 'layer/0/param/meanAbs')).toEqual(pmm.map((v, it) => [it, v]));
    expect(await points(run, 'layer/0/update/meanAbs')).toEqual(umm.map((v, it) => [it, v]));
    expect(await points(run, 'layer/1/grad/std')).toEqual(specs.map((_, it) => [it, tensorStats(arr(it, '1_W', 'G'), G).std]));
    expect(await points(run, 'layer/1/bias/mean')).toEqual(specs.map((_, it) => [it, tensorStats(arr(it, '1_b', 'P'), P).mean]));
    expect(await points(run, 'layer/0/param/min')).toEqual(specs.map((_, it) => [it, Math.min(...arr(it, '0_W', 'P'))]));
    expect(await points(run, 'layer/0/act/max')).toEqual(specs.map((s, it) => [it, Math.max(...(s.acts?.['0'] as number[]))]));
    expect(await points(run, 'inputs/mean')).toEqual(specs.map((s, it) => [it, tensorStats(s.acts?.input as number[], A).mean]));
    const ratio = await points(run, 'layer/0/update_ratio');
    ratio.forEach(([step, v], i) => {
      expect(step).toBe(i);
      expect(v as number).toBeCloseTo(Math.log10((umm[i] as number) / (pmm[i] as number)), 12);
    });
    expect(await points(run, 'lr')).toEqual(specs.map((_, it) => [it, Math.fround(0.001)]));
    expect(await points(run, 'sys/jvm_mb')).toEqual(specs.map((_, it) => [it, 200 + it]));
    expect(await points(run, 'sys/jvm_max_mb')).toEqual(specs.map((_, it) => [it, 4096]));
    expect(await points(run, 'sys/gc/G1_Young_Generation/ms')).toEqual(specs.slice(1).map((_, i) => [i + 1, (i + 1) % 5]));
    const q = (await api<QueryResult>(`/runs/${run}/query?series=loss,layer/1/update/meanAbs&maxPoints=10000`)).body;
    expect(q.series[0]?.buckets.map((b) => [b.fromStep, b.last])).toEqual(specs.map((s, it) => [it, s.score]));
    expect(q.series[1]?.buckets.map((b) => b.last)).toEqual(specs.map((_, it) => tensorStats(arr(it, '1_W', 'U'), U).meanAbs));
    const names = (await api<{ series: SeriesInfo[] }>(`/runs/${run}/series`)).body.series.map((s) => s.name);
    expect(names).not.toContain('layer/1/act/mean'); // DL4J reports no activations for the output layer
    expect(names.filter((n) => n.startsWith('dl4j/'))).toEqual([]);
  });

  it('keeps step times (two reports in one millisecond are two steps) and histograms', async () => {
    const steps = (await api<{ steps: Array<[number, number, number | null]> }>(`/runs/${run}/steps`)).body.steps;
    expect(steps.slice(0, 3)).toEqual([[0, (T0 + 1010) / 1000, null], [1, (T0 + 1010) / 1000, null], [2, (T0 + 1020) / 1000, null]]);
    const hs = (await api<{ histograms: Histogram[] }>(`/runs/${run}/histograms?layer=0&of=param&limit=1000`)).body.histograms;
    expect(hs.map((h) => h.step).sort((a, b) => a - b)).toEqual(Array.from({ length: ITS }, (_, i) => i));
    const h5 = hs.find((h) => h.step === 5) as Histogram;
    const w = tensorStats(reportSpec(session, worker, 5, 0).params['0_W']?.P as number[], P).hist;
    expect(h5.counts).toEqual(w.counts);
    expect([h5.edges[0], h5.edges[20]]).toEqual([w.min, w.max]);
    const acts = (await api<{ histograms: Histogram[] }>(`/runs/${run}/histograms?layer=0&of=act&limit=1000`)).body.histograms;
    expect(acts).toHaveLength(ITS);
  });

  it('stores nothing for a report posted again, and places a restarted counter after the last step', async () => {
    const before = (await api<RunDetail>(`/runs/${run}`)).body;
    const again = await post(srv.url, update(reportSpec(session, worker, 5, T0 + 1050)));
    expect(again).toMatchObject({ status: 200, body: { stored: 0, note: expect.stringContaining('already stored') } });
    const last = await post(srv.url, update(reportSpec(session, worker, ITS - 1, T0 + 1000 + (ITS - 1) * 10)));
    expect(last.body.stored).toBe(0);
    expect((await api<RunDetail>(`/runs/${run}`)).body).toMatchObject({ lastSeq: before.lastSeq, pointCount: before.pointCount });
    // A new fit() whose counter starts again, later in time: kept, after the last step.
    const restarted = await post(srv.url, update(reportSpec(session, worker, 0, T0 + 90_000, 0.5)));
    expect(restarted).toMatchObject({ status: 200, body: { step: ITS, note: expect.stringContaining(`stored as step ${ITS}`) } });
    expect(await points(run, 'dl4j/iteration')).toEqual([[ITS, 0]]);
    expect((await points(run, 'loss')).at(-1)).toEqual([ITS, 0.5]);
  });

  it('takes both class-name generations into the same run', async () => {
    const r = await post(srv.url, update(reportSpec(session, worker, 40, T0 + 100_000), 'legacy'));
    expect(r).toMatchObject({ status: 200, body: { runId: run, step: 40 } });
  });
});

describe('a DL4J session with histograms off', () => {
  it('stores mean, stdev and mean magnitude of each layer, and the update ratio', async () => {
    const session = 'no-histograms';
    const run = runIdOf(session, 'w');
    expect((await post(srv.url, staticInfo(session, 'w'))).status).toBe(200);
    const specs = Array.from({ length: 4 }, (_, it) => ({ ...reportSpec(session, 'w', it, T0 + it * 100), histograms: false }));
    for (const spec of specs) {
      const r = await post(srv.url, update(spec));
      expect(r, JSON.stringify(r.body)).toMatchObject({ status: 200, body: { stored: 1 } }); // the steps message alone
    }
    const arr = (it: number, k: string, kind: 'P' | 'U') => specs[it]?.params[k]?.[kind] as number[];
    const pmm = specs.map((_, it) => tensorStats(arr(it, '0_W', 'P'), P).meanAbs);
    const umm = specs.map((_, it) => tensorStats(arr(it, '0_W', 'U'), U).meanAbs);
    expect(await points(run, 'layer/0/param/meanAbs')).toEqual(pmm.map((v, it) => [it, v]));
    expect(await points(run, 'layer/0/param/std')).toEqual(specs.map((_, it) => [it, tensorStats(arr(it, '0_W', 'P'), P).std]));
    const ratio = await points(run, 'layer/0/update_ratio');
    expect(ratio.map(([step]) => step)).toEqual([0, 1, 2, 3]);
    ratio.forEach(([, v], i) => expect(v as number).toBeCloseTo(Math.log10((umm[i] as number) / (pmm[i] as number)), 12));
    const names = (await api<{ series: SeriesInfo[] }>(`/runs/${run}/series`)).body.series.map((s) => s.name);
    expect(names.filter((n) => n.endsWith('/min') || n.endsWith('/max') || n.startsWith('inputs/'))).toEqual([]);
    const hs = (await api<{ histograms: Histogram[] }>(`/runs/${run}/histograms?layer=0&of=param`)).body.histograms;
    expect(hs).toEqual([]);
  });
});

describe('alerts for a DL4J run', () => {
  it('opens nan.detected when the score turns NaN, as for any run', async () => {
    const session = 'nan-session';
    const run = runIdOf(session, 'w');
    expect((await post(srv.url, staticInfo(session, 'w'), '?project=faults')).status).toBe(200);
    for (let it = 0; it < 6; it++) {
      const r = await post(srv.url, update(reportSpec(session, 'w', it, T0 + it * 100, it === 5 ? NaN : 1.0)), '?project=faults');
      expect(r.status).toBe(200);
    }
    expect(await points(run, 'loss')).toEqual([[0, 1], [1, 1], [2, 1], [3, 1], [4, 1], [5, 'NaN']]);
    const alerts = (await api<{ alerts: Alert[] }>(`/alerts?run=${run}&rule=nan.detected`)).body.alerts;
    expect(alerts).toEqual([expect.objectContaining({ rule: 'nan.detected', severity: 'critical', status: 'open', project: 'faults', firstStep: 5 })]);
    const healthy = (await api<{ alerts: Alert[] }>(`/alerts?run=${runIdOf('6f0c2b7e-1d2a-4c3b-9e8f-0a1b2c3d4e5f', 'a1b2c3d4_1')}`)).body.alerts;
    expect(healthy.filter((a) => a.severity !== 'info')).toEqual([]);
  });
});

describe('what /remoteReceive refuses', () => {
  it('answers 400 with the reason and stores nothing, not even a run', async () => {
    const run = runIdOf('bad-session', 'w');
    const good = encodeUpdate(buildUpdate(reportSpec('bad-session', 'w', 0, T0)));
    const cases: Array<[string, RegExp]> = [
      ['{"type":"Update"', /JSON/i],
      ['[]', /JSON object/],
      [JSON.stringify({ type: 'Update', class: 'org.deeplearning4j.ui.model.stats.impl.SbeStatsReport' }), /"data"/],
      [envelope('Update', good.subarray(0, 200)), /ends early/],
      [JSON.stringify({ type: 'Update', class: 'org.deeplearning4j.ui.model.stats.impl.java.JavaStatsReport', data: 'rO0ABQ==' }), /Java-serialized/],
      [update({ ...reportSpec('bad-session', 'w', 0, T0), typeId: 'DspDiagnostics' }), /typeID/],
      [update({ ...reportSpec('bad-session', 'w', 0, T0), params: { ['x'.repeat(300) + '_W']: { P: [1, 2], U: [1, 2] } } }), /invalid steps/],
      // PostgreSQL text cannot hold a NUL: refused on both backends, naming the field (a fuzzed post found the 500).
      [staticInfo('bad-session', 'w', { sw: ['amd64', 'Linux', 'VM', '17', '17', 'F', 'FLOAT', 'train\u0000box', 'jvm1'] }), /NUL character/],
      [update({ ...reportSpec('bad-session', 'w', 0, T0), params: { ['fc\u0000_W']: { P: [1, 2], U: [1, 2] } } }), /NUL character/],
    ];
    for (const [body, re] of cases) {
      const r = await post(srv.url, body);
      expect(r.status, body.slice(0, 80)).toBe(400);
      expect(r.body.message).toMatch(re);
    }
    expect((await api(`/runs/${run}`)).status).toBe(404);
    const neg = buildUpdate(reportSpec('bad-session', 'w', 0, T0));
    neg.iteration = -3;
    expect(await post(srv.url, envelope('Update', encodeUpdate(neg)))).toMatchObject({ status: 400, body: { message: expect.stringMatching(/negative/) } });
    expect((await api(`/runs/${run}`)).status).toBe(404);
  });

  it('leaves an existing run as it was when a message of it cannot be read', async () => {
    const run = runIdOf('6f0c2b7e-1d2a-4c3b-9e8f-0a1b2c3d4e5f', 'a1b2c3d4_1');
    const before = (await api<RunDetail>(`/runs/${run}`)).body;
    const bytes = encodeUpdate(buildUpdate(reportSpec('6f0c2b7e-1d2a-4c3b-9e8f-0a1b2c3d4e5f', 'a1b2c3d4_1', 99, T0 + 200_000)));
    const broken = Uint8Array.from(bytes);
    broken[40 + 4 + 9 * 4] = 9; // the first performance entry's block length field: group header now lies
    const r = await post(srv.url, envelope('Update', broken.subarray(0, bytes.length - 30)));
    expect(r.status).toBe(400);
    expect((await api<RunDetail>(`/runs/${run}`)).body).toMatchObject({ lastSeq: before.lastSeq, pointCount: before.pointCount, lastStep: before.lastStep });
  });

  it('refuses a project name the API could not address', async () => {
    const r = await post(srv.url, metaData('s', 'w', T0), '?project=' + encodeURIComponent('../etc'));
    expect(r.status).toBe(400);
  });

  it('takes a StaticInfo above the app-wide 1 MiB body limit, and answers 413 past its own', async () => {
    const big = JSON.stringify({ confs: [], pad: 'x'.repeat(3 * 1024 * 1024) });
    expect(await post(srv.url, staticInfo('big-session', 'w', { modelJson: big }))).toMatchObject({ status: 200, body: { stored: 1 } });
    const huge = staticInfo('huge-session', 'w', { modelJson: 'x'.repeat(13 * 1024 * 1024) });
    expect(huge.length).toBeGreaterThan(16 * 1024 * 1024);
    expect((await post(srv.url, huge)).status).toBe(413);
    expect((await api(`/runs/${runIdOf('huge-session', 'w')}`)).status).toBe(404);
  });

  it('stores the workers of one session side by side, posting at once', async () => {
    const workers = ['jvm_1', 'jvm_2', 'jvm_3'];
    await Promise.all(
      workers.map(async (w) => {
        for (let it = 0; it < 5; it++) expect((await post(srv.url, update(reportSpec('spark', w, it, T0 + it)), '?project=spark')).status).toBe(200);
      }),
    );
    for (const w of workers) expect((await points(runIdOf('spark', w), 'loss')).map((p) => p[0])).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('a ComputationGraph session', () => {
  it('maps vertex names with underscores, the graph input and the vertex configuration', async () => {
    const session = 'graph-session';
    const run = runIdOf(session, 'w');
    const cg = JSON.stringify({
      networkInputs: ['features'],
      networkOutputs: ['out'],
      vertices: {
        dense_1: { '@class': 'org.deeplearning4j.nn.conf.graph.LayerVertex', layerConf: { layer: { '@class': 'org.deeplearning4j.nn.conf.layers.DenseLayer', activationFn: { '@class': 'org.nd4j.linalg.activations.impl.ActivationTanH' }, nin: 4, nout: 8 } } },
        out: { '@class': 'org.deeplearning4j.nn.conf.graph.LayerVertex', layerConf: { layer: { '@class': 'org.deeplearning4j.nn.conf.layers.OutputLayer', activationFn: { '@class': 'org.nd4j.linalg.activations.impl.ActivationIdentity' }, lossFn: { '@class': 'org.nd4j.linalg.lossfunctions.impl.LossMSE' }, nin: 8, nout: 3 } } },
      },
    });
    const names = { dense_1_W: '0_W', dense_1_b: '0_b', out_W: '1_W', out_b: '1_b' } as const;
    const si = staticInfo(session, 'w', { paramNames: Object.keys(names), modelClass: 'org.deeplearning4j.nn.graph.ComputationGraph', modelJson: cg });
    expect((await post(srv.url, si)).status).toBe(200);
    const spec = reportSpec(session, 'w', 10, T0);
    const p = spec.params;
    spec.params = Object.fromEntries(Object.entries(names).map(([k, v]) => [k, p[v] as ReportSpec['params'][string]]));
    spec.acts = { features: spec.acts?.input as number[], dense_1: spec.acts?.['0'] as number[] };
    expect(await post(srv.url, update(spec))).toMatchObject({ status: 200, body: { step: 10 } });
    const detail = (await api<RunDetail>(`/runs/${run}`)).body;
    expect(detail.model?.layers.map((l) => [l.name, l.kind, l.activation, l.fanIn])).toEqual([['dense_1', 'DenseLayer', 'TanH', 4], ['out', 'OutputLayer', 'Identity', 8]]);
    expect(detail.model?.loss).toBe('MSE');
    expect(await points(run, 'inputs/std')).toEqual([[10, tensorStats(spec.acts.features as number[], A).std]]);
    expect(await points(run, 'layer/dense_1/act/mean')).toEqual([[10, tensorStats(spec.acts.dense_1 as number[], A).mean]]);
    expect(await points(run, 'layer/out/grad/meanAbs')).toEqual([[10, tensorStats(p['1_W']?.G as number[], G).meanAbs]]);
  });
});
