import { describe, expect, it } from 'vitest';
import { mapStatic, runIdOf } from '../../src/dl4j/map-static.js';
import { histEdges, mapUpdate } from '../../src/dl4j/map-update.js';
import { inputNameOf, parseModelConfig } from '../../src/dl4j/model-config.js';
import { paramLayout } from '../../src/dl4j/param-layout.js';
import { decodeSbe } from '../../src/dl4j/sbe-decode.js';
import type { StaticInfo, Update } from '../../src/dl4j/sbe-types.js';
import { buildStatic, buildUpdate, mlnParams, series, tensorStats, type ReportSpec } from './reports.js';
import { encodeStaticInfo, encodeUpdate, G, P, U } from './sbe-encoder.js';

const roundTrip = (spec: ReportSpec, bits?: number): Update => {
  const u = buildUpdate(spec);
  if (bits !== undefined) u.fieldsPresent = bits;
  return decodeSbe(encodeUpdate(u)) as Update;
};
const f32 = Math.fround;

describe('DL4J parameter keys to layers', () => {
  it('splits at the last underscore and picks each layer\'s weight and bias', () => {
    const l = paramLayout(['0_W', '0_b', '1_W', '1_RW', '1_b', '2_gamma', '2_beta', '2_mean', '2_var', 'dense_1_W', 'dense_1_b', 'w0', '3_e0W', '3_e0b']);
    expect(Object.fromEntries([...l].map(([k, v]) => [k, `${v.layer}:${v.role}`]))).toEqual({
      '0_W': '0:weight', '0_b': '0:bias', '1_W': '1:weight', '1_RW': '1:other', '1_b': '1:bias',
      '2_gamma': '2:weight', '2_beta': '2:bias', '2_mean': '2:other', '2_var': '2:other',
      dense_1_W: 'dense_1:weight', dense_1_b: 'dense_1:bias', w0: 'w0:weight', '3_e0W': '3:weight', '3_e0b': '3:other',
    });
  });

  it('derives a stable, valid run id per (session, worker)', () => {
    const a = runIdOf('4e1c8a2e-0d5b-4f5e-9a57-3c5f1b2a9d10', 'a1b2c3_1');
    expect(a).toMatch(/^dl4j-4e1c8a2e-0d5b-4f5e-9a57-3c5f1b2a9d10-[0-9a-f]{16}$/);
    expect(runIdOf('4e1c8a2e-0d5b-4f5e-9a57-3c5f1b2a9d10', 'a1b2c3_1')).toBe(a);
    expect(runIdOf('4e1c8a2e-0d5b-4f5e-9a57-3c5f1b2a9d10', 'a1b2c3_2')).not.toBe(a);
    expect(runIdOf('-- weird/session --'.repeat(20), 'w')).toMatch(/^dl4j-[A-Za-z0-9][A-Za-z0-9._:-]{0,122}$/);
    expect(runIdOf('', '')).toMatch(/^dl4j-[0-9a-f]{16}$/);
  });
});

describe('StaticInfo to run and model', () => {
  it('maps the model configuration to layers, loss, optimizer and regularisation', () => {
    const si = decodeSbe(encodeStaticInfo(buildStatic())) as StaticInfo;
    const { run, model } = mapStatic(si);
    expect(run).toMatchObject({ name: 'sess-1', host: 'trainbox', framework: 'dl4j', tags: ['dl4j'] });
    expect(run.config).toMatchObject({ 'dl4j.modelClass': 'org.deeplearning4j.nn.multilayer.MultiLayerNetwork', 'dl4j.numParams': 67, 'dl4j.dataType': 'FLOAT', 'dl4j.input': 'input', l2: 1e-4 });
    expect(model).toEqual({
      layers: [
        { name: '0', kind: 'DenseLayer', activation: 'ReLU', init: 'Xavier', fanIn: 4, fanOut: 8, params: 40 },
        { name: '1', kind: 'OutputLayer', activation: 'Softmax', init: 'Xavier', fanIn: 8, fanOut: 3, params: 27 },
      ],
      loss: 'MCXENT',
      optimizer: { type: 'Adam', lr: 0.001 },
    });
  });

  it('reads the pre-beta wrapper format, ComputationGraph vertices and frozen layers', () => {
    const legacy = parseModelConfig(JSON.stringify({ confs: [{ layer: { dense: { activationFn: { ReLU: {} }, weightInit: 'XAVIER', updater: 'NESTEROVS', learningRate: 0.1, momentum: 0.9, nin: 10, nout: 5, l2: 0.01, dropOut: 0.5 } } }] }));
    expect(legacy.get('0')).toEqual({ kind: 'dense', activation: 'ReLU', init: 'XAVIER', fanIn: 10, fanOut: 5, params: 55, updater: { type: 'NESTEROVS', lr: 0.1, momentum: 0.9 }, l2: 0.01, dropout: 0.5 });
    const cg = parseModelConfig(JSON.stringify({ vertices: { dense_1: { '@class': 'org.deeplearning4j.nn.conf.graph.LayerVertex', layerConf: { layer: { '@class': 'org.deeplearning4j.nn.conf.layers.misc.FrozenLayer', layer: { '@class': 'org.deeplearning4j.nn.conf.layers.LSTM', nin: 3, nout: 4 } } } }, merge: { '@class': 'org.deeplearning4j.nn.conf.graph.MergeVertex' } } }));
    expect([...cg]).toEqual([['dense_1', { kind: 'LSTM', trainable: false, fanIn: 3, fanOut: 4 }]]);
    expect(inputNameOf(JSON.stringify({ networkInputs: ['features', 'mask'], vertices: {} }))).toBe('features');
    expect(inputNameOf(JSON.stringify({ confs: [] }))).toBe('input');
    expect(inputNameOf('{')).toBe('input');
    expect(parseModelConfig('not json').size).toBe(0);
    expect(parseModelConfig('[1,2]').size).toBe(0);
  });

  it('keeps layers from the parameter names when the configuration is off or unreadable', () => {
    const si = decodeSbe(encodeStaticInfo(buildStatic({ model: false, software: false, modelJson: '', modelClass: '' }))) as StaticInfo;
    const { run, model } = mapStatic(si);
    expect(model.layers.map((l) => [l.name, l.kind, l.params])).toEqual([['0', 'unknown', 0], ['1', 'unknown', 0]]);
    expect(run.config).not.toHaveProperty('dl4j.modelClass');
    expect(run.config).not.toHaveProperty('dl4j.backend');
  });
});

describe('Update to protocol content', () => {
  const params = mlnParams(3);
  const acts = { input: series(40, 20, 1.5), '0': series(41, 16, 1, 0.5) };
  const spec: ReportSpec = {
    time: 1_700_000_000_250, iteration: 30, score: 0.75, params, acts,
    memory: [[0, 256 * 2 ** 20], [1, 2 ** 30], [2, 3 * 2 ** 20], [3, 2 ** 31], [4, 5 * 2 ** 20], [4, 6 * 2 ** 20], [5, 2 ** 34], [5, 2 ** 33]],
    performance: { runtimeMs: 900, examples: 1920, minibatches: 60, examplesPerSec: 250.5, minibatchesPerSec: 7.75 },
    gc: [{ name: 'G1 Young Generation', count: 3, timeMs: 12 }],
  };

  it('maps weights, biases, activations and inputs value for value', () => {
    const { item } = mapUpdate(roundTrip(spec));
    const st = (x: number[], k: number) => {
      const t = tensorStats(x, k);
      return { mean: t.mean, std: t.std, meanAbs: t.meanAbs, min: t.hist.min, max: t.hist.max };
    };
    const p = (k: string) => params[k] as Required<ReportSpec['params'][string]>;
    expect(item.layers).toEqual({
      '0': { param: st(p('0_W').P, P), grad: st(p('0_W').G, G), update: st(p('0_W').U, U), bias: st(p('0_b').P, P), act: st(acts['0'], 3) },
      '1': { param: st(p('1_W').P, P), grad: st(p('1_W').G, G), update: st(p('1_W').U, U), bias: st(p('1_b').P, P) },
    });
    const i = st(acts.input, 3);
    expect(item.inputs).toEqual({ mean: i.mean, std: i.std, min: i.min, max: i.max });
    expect(item.time).toBe(1_700_000_000.25);
    // A graph names its input batch after its first input; "input" is then an ordinary layer.
    const graph = mapUpdate(roundTrip(spec), '0');
    expect(graph.item.inputs).toEqual({ mean: (item.layers?.['0']?.act as { mean: number }).mean, std: item.layers?.['0']?.act?.std, min: item.layers?.['0']?.act?.min, max: item.layers?.['0']?.act?.max });
    expect(graph.item.layers?.input?.act).toEqual({ ...i, meanAbs: tensorStats(acts.input, 3).meanAbs });
  });

  it('maps score, learning rate, memory, performance and GC to scalars', () => {
    const { item } = mapUpdate(roundTrip(spec));
    expect(item.scalars).toEqual({
      loss: 0.75, lr: f32(0.001),
      'sys/jvm_mb': 256, 'sys/jvm_max_mb': 1024, 'sys/offheap_mb': 3, 'sys/offheap_max_mb': 2048,
      'sys/device0_mem_mb': 5, 'sys/device1_mem_mb': 6, 'sys/device0_max_mem_mb': 16384, 'sys/device1_max_mem_mb': 8192,
      'sys/runtime_ms': 900, 'sys/total_examples': 1920, 'sys/total_minibatches': 60, 'sys/examples_per_s': 250.5, 'sys/minibatches_per_s': 7.75,
      'sys/gc/G1_Young_Generation/count': 3, 'sys/gc/G1_Young_Generation/ms': 12, 'sys/stats_ms': 3,
    });
    const differ = mapUpdate(roundTrip({ ...spec, params: { ...params, '1_W': { ...params['1_W'], lr: 0.01 } } })).item.scalars;
    expect(differ).toMatchObject({ lr: f32(0.001), 'lr/0_W': f32(0.001), 'lr/1_W': f32(0.01), 'lr/1_b': f32(0.001) });
  });

  it('decides presence from the groups, not the presence bits (pitfall 2)', () => {
    // Every bit clear but score: the groups still carry memory, histograms and summaries.
    const lying = mapUpdate(roundTrip(spec, 1));
    const honest = mapUpdate(roundTrip(spec));
    expect(lying.item.layers).toEqual(honest.item.layers);
    expect(lying.item.scalars['sys/jvm_mb']).toBe(256);
    // Learning rates are the exception: DL4J writes 0.0 when it did not collect them, so bit 20 decides.
    expect(lying.item.scalars).not.toHaveProperty('lr');
    // Bits set for maps that carry nothing (Activations not captured since the last report).
    const empty = mapUpdate(roundTrip({ time: 1, iteration: 1, score: 1, params: {} }, 0x3fffff));
    expect(empty.item.layers).toBeUndefined();
    expect(empty.hists).toEqual([]);
    expect(empty.item.scalars).toEqual({ loss: 1, 'sys/stats_ms': 3 });
  });

  it('drops NaN summaries of a parameter missing from a map (a frozen layer), keeps a real NaN', () => {
    const frozen = { ...params, '0_W': { P: params['0_W']?.P as number[] }, '0_b': { P: params['0_b']?.P as number[] } };
    const { item } = mapUpdate(roundTrip({ ...spec, params: frozen }));
    expect(Object.keys(item.layers?.['0'] ?? {}).sort()).toEqual(['act', 'bias', 'param']);
    const nanW = { ...params, '1_W': { ...params['1_W'], G: (params['1_W']?.G as number[]).map(() => NaN) } };
    const bad = mapUpdate(roundTrip({ ...spec, params: nanW }));
    expect(bad.item.layers?.['1']?.grad).toEqual({ mean: 'NaN', std: 'NaN', meanAbs: 'NaN', min: 'NaN', max: 'NaN' });
    expect(bad.hists.find((h) => h.layer === '1' && h.of === 'grad')).toBeUndefined();
    expect(mapUpdate(roundTrip({ ...spec, score: NaN })).item.scalars.loss).toBe('NaN');
  });

  it('gives a one-element tensor (NaN stdev, finite mean) a stdev of 0, not a NaN', () => {
    const u = roundTrip(spec);
    const bias = u.entries.find((e) => e.name === '1_b');
    for (const s of bias?.summaries ?? []) if (s.summary === 'Stdev') s.value = NaN;
    const { item } = mapUpdate(u);
    expect(item.layers?.['1']?.bias).toMatchObject({ std: 0, mean: tensorStats(params['1_b']?.P as number[], P).mean });
  });

  it('keeps the moments without min and max when histograms are off', () => {
    const { item, hists } = mapUpdate(roundTrip({ ...spec, histograms: false }));
    const m = (x: number[], k: number) => {
      const t = tensorStats(x, k);
      return { mean: t.mean, std: t.std, meanAbs: t.meanAbs };
    };
    const p = (k: string) => params[k] as Required<ReportSpec['params'][string]>;
    expect(item.layers).toEqual({
      '0': { param: m(p('0_W').P, P), grad: m(p('0_W').G, G), update: m(p('0_W').U, U), bias: m(p('0_b').P, P), act: m(acts['0'], 3) },
      '1': { param: m(p('1_W').P, P), grad: m(p('1_W').G, G), update: m(p('1_W').U, U), bias: m(p('1_b').P, P) },
    });
    expect(hists).toEqual([]);
    expect(item.inputs).toBeUndefined(); // the data rules need the input's range
    // A frozen layer's gradient (NaN summaries) is still left out; a tensor with one NaN moment is kept.
    const frozen = { ...params, '0_W': { P: params['0_W']?.P as number[], U: params['0_W']?.U as number[] } };
    expect(Object.keys(mapUpdate(roundTrip({ ...spec, params: frozen, histograms: false })).item.layers?.['0'] ?? {}).sort()).toEqual(['act', 'bias', 'param', 'update']);
    const inf = { ...params, '1_W': { ...params['1_W'], G: (params['1_W']?.G as number[]).map((x, i) => (i === 0 ? Infinity : x)) } };
    expect(mapUpdate(roundTrip({ ...spec, params: inf, histograms: false })).item.layers?.['1']?.grad).toMatchObject({ mean: 'Infinity' });
  });

  it('turns histograms into edges and counts, merging past 1000 bins exactly', () => {
    const { hists } = mapUpdate(roundTrip(spec));
    expect(hists.map((h) => `${h.layer}/${h.of}`).sort()).toEqual(['0/act', '0/grad', '0/param', '0/update', '1/grad', '1/param', '1/update']);
    const w = tensorStats(params['0_W']?.P as number[], P).hist;
    const h = hists.find((x) => x.layer === '0' && x.of === 'param');
    expect(h?.counts).toEqual(w.counts);
    expect(h?.edges).toHaveLength(21);
    expect(h?.edges[0]).toBe(w.min);
    expect(h?.edges[20]).toBe(w.max);
    expect(h?.edges[5]).toBeCloseTo(w.min + (5 * (w.max - w.min)) / 20, 12);
    const big = histEdges({ stat: 'Parameters', min: 0, max: 2500, counts: Array.from({ length: 2500 }, (_, i) => i % 7) });
    expect(big?.counts).toHaveLength(834);
    expect(big?.counts.reduce((a, b) => a + b)).toBe(Array.from({ length: 2500 }, (_, i) => i % 7).reduce((a, b) => a + b));
    expect(big?.edges.slice(0, 3)).toEqual([0, 3, 6]);
    expect(big?.edges.at(-1)).toBe(2500);
    expect(histEdges({ stat: 'Parameters', min: NaN, max: 1, counts: [1] })).toBeUndefined();
  });
});
