/**
 * Synthetic streams: one per rule the recordings do not exercise (mostly the static,
 * configuration-driven rules), the hard timing promises (NaN on the very step; a sustained
 * update ratio above -2 within 50 steps), and the healthy traps of the design brief.
 */
import { describe, expect, it } from 'vitest';
import type { LayerInfo, RunInfo } from '@gradwatch/shared';
import { createRunEngine, type ModelView, type NumStats, type RunEngine, type StepView } from '../../src/rules/index.js';
import { AlertLog, st, step } from './helpers.js';

const run = (config: Record<string, unknown> = {}, extra: Partial<RunInfo> = {}): RunInfo => ({
  id: 'r1', project: 'p', name: 'n', config, ...extra,
});
const dense = (name: string, fanIn: number, fanOut: number, activation = 'relu', more: Partial<LayerInfo> = {}): LayerInfo => ({
  name, kind: 'Linear', activation, params: fanIn * fanOut, fanIn, fanOut, ...more,
});
const MLP: ModelView = {
  layers: [dense('fc1', 784, 512), dense('fc2', 512, 256), dense('fc3', 256, 10, 'identity')],
  loss: 'CrossEntropyLoss',
  optimizer: { type: 'Adam', lr: 1e-3 },
};

function start(config: Record<string, unknown> = {}, model: ModelView = MLP, extra: Partial<RunInfo> = {}): { e: RunEngine; log: AlertLog } {
  const e = createRunEngine();
  const log = new AlertLog();
  log.add(e.onHello(run(config, extra)));
  log.add(e.onModel(model));
  return { e, log };
}

/** A healthy layer: He-scale weights, update ratio about -3, ReLU acts half zero. */
function healthyLayer(fanIn: number, i: number, o: { ratio?: number; act?: Partial<NumStats> } = {}): Record<string, NumStats> {
  const w = Math.sqrt(2 / fanIn) * 0.8;
  const wob = 1 + 0.1 * Math.sin(i);
  return {
    param: st(w),
    grad: st(1e-3 * wob, { norm: 0.05 * wob }),
    update: st(w * 10 ** (o.ratio ?? -3) * wob),
    act: st(0.6, { mean: 0.5, min: 0, fracZero: 0.5, fracDeadUnits: 0.02, ...o.act }),
  };
}

function healthyStep(i: number, model: ModelView = MLP, scalars: Record<string, number> = {}, ratio?: number): StepView {
  const layers: StepView['layers'] = {};
  for (const l of model.layers) layers[l.name] = healthyLayer(l.fanIn ?? 10, i, ratio === undefined ? {} : { ratio });
  const loss = 0.3 + 2 * Math.exp(-i / 100) + 0.1 * Math.sin(i * 1.7);
  return step(i, { loss, lr: 1e-3, ...scalars }, layers, model, { inputs: { mean: 0, std: 1, min: -3, max: 3, nonFinite: 0 } });
}

describe('timing promises', () => {
  it('NaN raises a critical alert on the very step it arrives, with evidence', () => {
    const { e, log } = start();
    for (let i = 0; i < 30; i++) log.add(e.onStep(healthyStep(i)));
    const bad = healthyStep(30);
    const fc2 = bad.layers.fc2;
    if (fc2?.grad) fc2.grad = { ...fc2.grad, nonFinite: 3 };
    const cs = e.onStep(bad);
    const open = cs.find((c) => c.rule === 'nan.detected');
    expect(open).toMatchObject({ action: 'open', severity: 'critical', step: 30 });
    expect(open?.evidence).toMatchObject({ firstStep: 30, layer: 'fc2', quantity: 'grad', nonFiniteCount: 3 });
    expect(open?.evidence.preceding).toMatchObject({ steps: 20 });
  });

  it('NaN in the loss alone, or in the inputs, is caught and attributed', () => {
    const { e } = start();
    const s = healthyStep(0);
    s.scalars.loss = Number.NaN;
    expect(e.onStep(s).find((c) => c.rule === 'nan.detected')?.evidence).toMatchObject({ quantity: 'loss' });
    const { e: e2 } = start();
    const s2 = healthyStep(0);
    s2.inputs = { mean: Number.NaN, std: 1, min: 0, max: 1, nonFinite: 5 };
    const c = e2.onStep(s2).find((x) => x.rule === 'nan.detected');
    expect(c?.evidence).toMatchObject({ quantity: 'inputs', likelyCause: 'input_data' });
  });

  it('a -Infinity update ratio (zero update) is never a NaN alarm', () => {
    const { e, log } = start();
    for (let i = 0; i < 40; i++) {
      const s = healthyStep(i);
      const l = s.layers.fc1;
      if (l) l.update = st(0, { std: 0, min: 0, max: 0 });
      s.updateRatio = { ...s.updateRatio, fc1: Number.NEGATIVE_INFINITY };
      log.add(e.onStep(s));
    }
    expect(log.rules()).not.toContain('nan.detected');
    expect(log.firstOpen.get('weights.unchanged')).toBeLessThanOrEqual(25);
  });

  it('a sustained update ratio above -2 is reported within 50 steps', () => {
    const { e, log } = start();
    for (let i = 0; i < 100; i++) log.add(e.onStep(healthyStep(i, MLP, {}, i >= 30 ? -1.5 : -3)));
    const at = log.firstOpen.get('lr.update_ratio_high') ?? Infinity;
    expect(at).toBeGreaterThanOrEqual(30);
    expect(at).toBeLessThan(30 + 50);
  });
});

describe('static rules', () => {
  const cases: [string, Record<string, unknown>, ModelView | undefined, string, Partial<RunInfo>?][] = [
    ['lr.config_out_of_range', { lr: 0.5 }, { ...MLP, optimizer: { type: 'SGD' } }, 'info'],
    ['schedule.per_iteration_multi_worker', { schedule: { type: 'step', unit: 'iteration' } }, undefined, 'info', { worldSize: 4 }],
    ['reg.too_strong', { l2: 0.01 }, undefined, 'warning'],
    ['reg.dropout_semantics', { dropout: 0.2, dropoutMeaning: 'retain' }, undefined, 'warning'],
    ['batch.too_small', { batchSize: 1 }, undefined, 'warning'],
    ['rnn.no_tbptt', { sequenceLength: 1000 }, { layers: [{ name: 'lstm', kind: 'LSTM', params: 100 }, dense('out', 64, 5, 'identity')] }, 'info'],
    ['units.hidden_too_small', {}, { layers: [dense('fc1', 784, 100), dense('fc2', 100, 10, 'identity')] }, 'info'],
    ['units.bottleneck_not_smaller', { task: 'autoencoder' }, { layers: [dense('enc', 64, 128), dense('dec', 128, 64, 'identity')] }, 'warning'],
    ['init.relu_xavier', {}, { layers: [dense('fc1', 784, 128, 'relu', { init: 'xavier_uniform' }), dense('fc2', 128, 10, 'identity')] }, 'info'],
    ['act.saturating_hidden', {}, { layers: ['a', 'b', 'c', 'd'].map((n, i) => dense(n, 32, 32, i < 3 ? 'sigmoid' : 'identity')) }, 'info'],
    ['output.loss_mismatch', {}, { ...MLP, layers: [...MLP.layers.slice(0, 2), dense('fc3', 256, 10, 'softmax')] }, 'warning'],
    ['output.loss_mismatch', { task: 'classification' }, { ...MLP, loss: 'MSELoss' }, 'warning'],
    ['output.target_range', { targetMin: 0, targetMax: 255 }, { layers: [dense('fc1', 8, 8), dense('out', 8, 1, 'sigmoid')] }, 'warning'],
  ];
  for (const [rule, config, model, sev, extra] of cases) {
    it(`${rule} fires at hello/model (${JSON.stringify(config)})`, () => {
      const { log } = start(config, model ?? MLP, extra);
      expect(log.firstOpen.get(rule)).toBe(0);
      expect(log.worst.get(rule)).toBe(sev);
    });
  }

  it('a static alert resolves when a later model message fixes the problem', () => {
    const bad: ModelView = { ...MLP, layers: [...MLP.layers.slice(0, 2), dense('fc3', 256, 10, 'softmax')] };
    const { e, log } = start({}, bad);
    expect(log.open.has('output.loss_mismatch|')).toBe(true);
    log.add(e.onModel(MLP));
    expect(log.open.has('output.loss_mismatch|')).toBe(false);
  });
});

describe('healthy traps stay quiet', () => {
  it('logits into CrossEntropyLoss, AdamW weight decay 0.01, BatchNorm/LayerNorm at 1, embeddings at std 1, frozen layers', () => {
    const model: ModelView = {
      layers: [
        { name: 'emb', kind: 'Embedding', params: 50000 * 64, fanIn: 50000, fanOut: 64 },
        { name: 'bn', kind: 'BatchNorm1d', params: 128 },
        { name: 'ln', kind: 'LayerNorm', params: 128 },
        dense('frozen', 64, 64, 'relu', { trainable: false }),
        dense('fc', 64, 64),
        dense('head', 64, 10, 'identity'),
      ],
      loss: 'CrossEntropyLoss',
      optimizer: { type: 'AdamW', lr: 3e-4, weightDecay: 0.01 },
    };
    const { e, log } = start({ weightDecay: 0.01, batchSize: 64, task: 'classification' }, model, { framework: 'pytorch' });
    for (let i = 0; i < 400; i++) {
      const s = healthyStep(i, model);
      const ones: NumStats = { mean: 1, std: 0, meanAbs: 1, min: 1, max: 1, norm: 11.3 };
      const upd = st(1e-4);
      s.layers.bn = { param: ones, grad: st(1e-3), update: upd, act: st(0.8) };
      s.layers.ln = { param: ones, grad: st(1e-3), update: upd, act: st(0.8) };
      s.layers.emb = { param: st(0.8, { std: 1 }), grad: st(1e-5), update: st(1e-5), act: st(0.8, { std: 1 }) };
      s.layers.frozen = { param: st(0.1), grad: st(1e-3), update: st(0, { std: 0, min: 0, max: 0 }), act: st(0.6, { fracZero: 0.5 }) };
      Object.assign(s, step(i, s.scalars, s.layers, model, { inputs: s.inputs }));
      log.add(e.onStep(s));
    }
    expect(log.serious()).toEqual([]);
  });

  it('lr warm-up and cosine decay (ratios briefly below -4) raise nothing serious', () => {
    const { e, log } = start();
    const total = 1000;
    for (let i = 0; i < total; i++) {
      const lr = i < 100 ? 1e-3 * ((i + 1) / 100) : 0.5e-3 * (1 + Math.cos((Math.PI * (i - 100)) / (total - 100)));
      const ratio = -3 + Math.log10(Math.max(lr, 1e-9) / 1e-3);
      log.add(e.onStep(healthyStep(i, MLP, { lr }, ratio)));
    }
    expect(log.serious()).toEqual([]);
  });

  it('ReLU with half its elements zero is not a dead-unit alarm', () => {
    const { e, log } = start();
    for (let i = 0; i < 200; i++) {
      const s = healthyStep(i);
      for (const l of Object.values(s.layers)) if (l.act) l.act = { ...l.act, fracZero: 0.55, fracDeadUnits: 0.05 };
      log.add(e.onStep(s));
    }
    expect(log.rules()).not.toContain('act.dead_units');
  });
});

describe('streaming rules without a recording', () => {
  it('grad.norm_ratio_high: first/last grad norm ratio above 70, sustained', () => {
    const { e, log } = start();
    for (let i = 0; i < 60; i++) {
      const s = healthyStep(i);
      const g = s.layers.fc1?.grad;
      if (g && i >= 10) s.layers.fc1 = { ...s.layers.fc1, grad: { ...g, norm: 100 * (g.norm ?? 1) } };
      log.add(e.onStep(step(i, s.scalars, s.layers, MLP)));
    }
    expect(log.firstOpen.get('grad.norm_ratio_high')).toBeLessThanOrEqual(30);
  });

  it('lr.loss_diverging: a loss that falls then climbs to many times its best', () => {
    const { e, log } = start();
    for (let i = 0; i < 200; i++) {
      const loss = i < 100 ? 2 * Math.exp(-i / 20) + 0.1 : 0.1 * Math.exp((i - 100) / 15);
      log.add(e.onStep(step(i, { loss })));
    }
    expect(log.firstOpen.get('lr.loss_diverging')).toBeLessThanOrEqual(140);
  });

  it('epochs.eval_above_train (info): eval accuracy far above train accuracy', () => {
    const { e, log } = start();
    for (let i = 0; i < 300; i++) {
      log.add(e.onStep(step(i, { loss: 1, acc: 0.6 })));
      if (i % 50 === 49) log.add(e.onEval({ step: i, split: 'val', metrics: { loss: 0.5, acc: 0.9 } }));
    }
    expect(log.worst.get('epochs.eval_above_train')).toBe('info');
  });

  it('act.std_out_of_range: activations collapsing to ~0 after warm-up (warning)', () => {
    const { e, log } = start();
    for (let i = 0; i < 200; i++) {
      const s = healthyStep(i);
      const l = s.layers.fc2;
      if (l) l.act = st(1e-5, { mean: 1e-5, min: 0 });
      log.add(e.onStep(s));
    }
    expect(log.worst.get('act.std_out_of_range')).toBe('warning');
    expect(log.firstOpen.get('act.std_out_of_range')).toBeLessThanOrEqual(150);
  });

  it('rules whose inputs are absent stay silent', () => {
    const e = createRunEngine();
    const log = new AlertLog();
    log.add(e.onHello(run()));
    for (let i = 0; i < 500; i++) log.add(e.onStep(step(i, {})));
    log.add(e.onEval({ step: 500, split: 'val', metrics: {} }));
    expect(log.changes).toEqual([]);
  });
});
