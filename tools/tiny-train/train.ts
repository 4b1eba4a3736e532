/**
 * Real training of tiny MLPs (mlp.ts), healthy and with injected faults, yielding per-step
 * statistics exactly as the protocol defines them. Used to record the rule-engine fixtures and
 * by `npm run demo` to stream live runs. Deterministic (seeded).
 */
import { STAT_FIELDS, inputStats, pack, tensorStats, type Fixture, type FixtureLayer, type PackedStats } from './format.js';
import { histogram, type Histogram } from './histogram.js';
import { Rng, backward, forward, lossAndGrad, makeLayers, optimStep, type Layer } from './mlp.js';
import type { Scenario } from './scenarios.js';

interface Data {
  X: Float64Array;
  y: Int32Array;
  n: number;
}

/** Gaussian blobs: one centre per class, unit noise; optional scale/shift to break normalisation. */
function makeData(rng: Rng, centers: Float64Array, d: number, k: number, n: number, scale = 1, shift = 0, labelNoise = 0): Data {
  const X = new Float64Array(n * d);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(rng.next() * k);
    y[i] = rng.next() < labelNoise ? Math.floor(rng.next() * k) : c;
    for (let j = 0; j < d; j++) X[i * d + j] = ((centers[c * d + j] ?? 0) + rng.normal()) * scale + shift;
  }
  return { X, y, n };
}

function batchOf(data: Data, d: number, idx: number[]): { X: Float64Array; y: Int32Array } {
  const X = new Float64Array(idx.length * d);
  const y = new Int32Array(idx.length);
  idx.forEach((r, i) => {
    X.set(data.X.subarray(r * d, r * d + d), i * d);
    y[i] = data.y[r] ?? 0;
  });
  return { X, y };
}

function accuracy(out: Float64Array, y: Int32Array, k: number): number {
  let ok = 0;
  for (let n = 0; n < y.length; n++) {
    let best = 0;
    for (let c = 1; c < k; c++) if ((out[n * k + c] ?? 0) > (out[n * k + best] ?? 0)) best = c;
    if (best === y[n]) ok++;
  }
  return ok / y.length;
}

function layerInfo(layers: Layer[], sc: Scenario): FixtureLayer[] {
  return layers.map((L, i) => {
    const isLn = L.spec.kind === 'LayerNorm';
    const info: FixtureLayer = { name: isLn ? `ln${i}` : `fc${i}`, kind: L.spec.kind, params: L.W.length + L.b.length };
    if (!isLn) {
      info.activation = L.spec.act ?? 'identity';
      info.fanIn = L.inDim;
      info.fanOut = L.outDim;
      if (sc.initName) info.init = sc.initName;
    }
    if (L.spec.trainable === false) info.trainable = false;
    return info;
  });
}

/** The run's description: hello, model, field names. */
export function header(sc: Scenario, layers: Layer[]): Omit<Fixture, 'steps' | 'evals'> {
  const lr0 = typeof sc.lr === 'number' ? sc.lr : sc.lr(0);
  return {
    name: sc.name,
    description: sc.description,
    heldOut: sc.heldOut ?? false,
    hello: { id: `fx-${sc.name}`, project: 'fixtures', name: sc.name, framework: 'gradwatch-ts-mlp', config: {
      lr: lr0, batchSize: sc.batch, optimizer: sc.opt.type, ...sc.config,
    } },
    model: {
      layers: layerInfo(layers, sc),
      loss: sc.loss === 'ce' ? 'CrossEntropyLoss' : 'MSELoss',
      optimizer: { type: sc.opt.type, lr: lr0, momentum: sc.opt.momentum ?? 0, weightDecay: sc.opt.weightDecay ?? 0 },
    },
    fields: STAT_FIELDS,
  };
}

export type HistOf = 'param' | 'grad' | 'update' | 'act';

export type TrainEvent =
  | { kind: 'start'; header: Omit<Fixture, 'steps' | 'evals'> }
  | { kind: 'step'; row: Fixture['steps'][number] }
  | { kind: 'eval'; row: Fixture['evals'][number] }
  | { kind: 'hist'; step: number; layer: number; of: HistOf; hist: Histogram };

export interface TrainOptions {
  /** Yield param, grad, update and act histograms of every layer every n steps (never by default). */
  histEvery?: number;
  /**
   * Train on after the loss turns NaN, as a real job does until something stops it (by default
   * the run ends three steps later: nothing useful follows for a recording).
   */
  continueAfterNaN?: boolean;
}

/** Trains the scenario step by step, yielding each step's statistics as it is computed. */
export function* train(sc: Scenario, o: TrainOptions = {}): Generator<TrainEvent> {
  const rng = new Rng(sc.seed);
  const { dim: d, classes: k } = sc.data;
  const centers = new Float64Array(k * d);
  for (let i = 0; i < centers.length; i++) centers[i] = 1.5 * rng.normal();
  const trainSet = makeData(rng, centers, d, k, sc.data.n, sc.data.scale, sc.data.shift, sc.data.labelNoise);
  const val = makeData(rng, centers, d, k, 256, sc.data.evalScale ?? sc.data.scale, sc.data.evalShift ?? sc.data.shift);
  const layers = makeLayers(d, sc.layers, rng);
  yield { kind: 'start', header: header(sc, layers) };
  let order: number[] = [];
  let nanStop: number | undefined;
  for (let step = 0; step < sc.steps; step++) {
    if (order.length < sc.batch) order = [...Array(trainSet.n).keys()].sort(() => rng.next() - 0.5);
    const b = batchOf(trainSet, d, order.splice(0, sc.batch));
    const lr = typeof sc.lr === 'number' ? sc.lr : sc.lr(step);
    const hists: Array<Extract<TrainEvent, { kind: 'hist' }>> = [];
    const wantHist = o.histEvery !== undefined && step % o.histEvery === 0;
    const hist = (of: HistOf, xs: Float64Array[]): void => {
      if (!wantHist) return;
      xs.forEach((x, layer) => {
        const h = histogram(x);
        if (h) hists.push({ kind: 'hist', step, layer, of, hist: h });
      });
    };
    const params = layers.map((L) => tensorStats(L.W));
    hist('param', layers.map((L) => L.W));
    const out = forward(layers, b.X, sc.batch);
    const { loss, d: dOut } = lossAndGrad(out, b.y, sc.batch, k, sc.loss);
    backward(layers, dOut, sc.batch);
    const grads = layers.map((L) => tensorStats(L.gW));
    const acts = layers.map((L) => tensorStats(L.a, { activation: L.spec.act, rows: sc.batch, cols: L.outDim }));
    hist('grad', layers.map((L) => L.gW));
    hist('act', layers.map((L) => L.a));
    const updates = optimStep(layers, sc.opt, lr, step + 1);
    const ups = updates.map((u) => tensorStats(u).slice(0, 6));
    hist('update', updates);
    const every = sc.layerEvery ?? 1;
    const perLayer = step % every === 0
      ? layers.map((_, i) => [params[i] ?? null, grads[i] ?? null, ups[i] ?? null, acts[i] ?? null] as (PackedStats | null)[])
      : null;
    yield { kind: 'step', row: [step, pack(loss, 4), pack(lr, 4), pack(accuracy(out, b.y, k), 3), inputStats(b.X), perLayer] };
    yield* hists;
    if (sc.evalEvery && (step + 1) % sc.evalEvery === 0) {
      const vo = forward(layers, val.X, val.n);
      const vl = lossAndGrad(vo, val.y, val.n, k, sc.loss).loss;
      yield { kind: 'eval', row: [step, 'val', pack(vl, 4), pack(accuracy(vo, val.y, k), 3), inputStats(val.X)] };
    }
    // Keep a few steps after the first NaN loss, then stop: nothing useful follows.
    if (!Number.isFinite(loss) && !o.continueAfterNaN) nanStop ??= step + 3;
    if (nanStop !== undefined && step >= nanStop) break;
  }
}

/** A whole training run, recorded. */
export function record(sc: Scenario): Fixture {
  let fx: Fixture | null = null;
  for (const ev of train(sc)) {
    if (ev.kind === 'start') fx = { ...ev.header, steps: [], evals: [] };
    else if (ev.kind === 'step') fx?.steps.push(ev.row);
    else if (ev.kind === 'eval') fx?.evals.push(ev.row);
  }
  if (!fx) throw new Error(`scenario ${sc.name} produced nothing`);
  return fx;
}
