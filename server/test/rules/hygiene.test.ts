/**
 * Alert hygiene (issue 12): an episode of one condition is one alert (a re-fire soon after a
 * clear continues it), one rule on several layers is one alert listing them, advice always
 * matches the evidence it is sent with, alerts close when the run ends; the reserved grad_norm
 * scalar and recurrent sub-layers are read.
 */
import { describe, expect, it } from 'vitest';
import { ENDED_WITH_RUN, createRunEngine, type AlertChange, type ModelView } from '../../src/rules/index.js';
import { RunContext } from '../../src/rules/context.js';
import { nanDetected } from '../../src/rules/families/nan.js';
import { st, step } from './helpers.js';

const MODEL: ModelView = {
  layers: [
    { name: 'fc1', kind: 'Linear', activation: 'relu', params: 100, fanIn: 10, fanOut: 10 },
    { name: 'fc2', kind: 'Linear', activation: 'relu', params: 100, fanIn: 10, fanOut: 10 },
    { name: 'fc3', kind: 'Linear', activation: 'identity', params: 20, fanIn: 10, fanOut: 2 },
  ],
};

/** fc1 (and fc2 when `both`) with update ratio `ratio`; the other layers at a healthy -3. */
function ratioStep(i: number, ratio: number, both = false): ReturnType<typeof step> {
  const l = (r: number) => ({ param: st(0.1), update: st(0.1 * 10 ** r) });
  return step(i, { loss: 1 }, { fc1: l(ratio), fc2: l(both ? ratio : -3), fc3: l(-3) }, MODEL);
}

function engine() {
  const e = createRunEngine();
  e.onHello({ id: 'r', project: 'p', name: 'n' });
  e.onModel(MODEL);
  return e;
}

const of = (cs: AlertChange[], rule: string, action?: AlertChange['action']): AlertChange[] =>
  cs.filter((c) => c.rule === rule && (action === undefined || c.action === action));

describe('episodes', () => {
  it('a re-fire soon after a clear continues the episode instead of opening a new alert', () => {
    const e = engine();
    const cs: AlertChange[] = [];
    for (let i = 0; i < 40; i++) cs.push(...e.onStep(ratioStep(i, -1.5)));
    for (let i = 40; i < 75; i++) cs.push(...e.onStep(ratioStep(i, -3)));
    for (let i = 75; i < 120; i++) cs.push(...e.onStep(ratioStep(i, -1.5)));
    expect(of(cs, 'lr.update_ratio_high', 'open')).toHaveLength(1);
    expect(of(cs, 'lr.update_ratio_high', 'resolve')).toHaveLength(0);
    for (let i = 120; i < 300; i++) cs.push(...e.onStep(ratioStep(i, -3)));
    const res = of(cs, 'lr.update_ratio_high', 'resolve');
    expect(res).toHaveLength(1);
    expect(res[0]).toMatchObject({ layer: 'fc1', firstStep: 15, lastStep: 119 });
  });

  it('one rule firing on several layers is one alert that lists them, keyed by its first layer', () => {
    const e = engine();
    const cs: AlertChange[] = [];
    for (let i = 0; i < 30; i++) cs.push(...e.onStep(ratioStep(i, -1.5, i >= 10)));
    const mine = of(cs, 'lr.update_ratio_high');
    expect(mine.filter((c) => c.action === 'open')).toHaveLength(1);
    expect(new Set(mine.map((c) => c.layer))).toEqual(new Set(['fc1']));
    const last = mine.at(-1);
    expect(last?.layers).toEqual(['fc1', 'fc2']);
    expect(last?.evidence.layers).toEqual(['fc1', 'fc2']);
  });

  it('the run ending resolves every open alert with a reason; the verdict stays', () => {
    const e = engine();
    for (let i = 0; i < 30; i++) e.onStep(ratioStep(i, -1.5));
    const end = e.onEnd('completed');
    expect(end.length).toBeGreaterThan(0);
    for (const c of end) expect(c).toMatchObject({ action: 'resolve', reason: ENDED_WITH_RUN });
    expect(e.diagnoses()[0]).toMatchObject({ cause: 'lr_too_high', active: false });
    expect(e.onEnd('completed')).toEqual([]);
  });
});

describe('advice agrees with evidence', () => {
  it('every NaN change carries the advice of its own likelyCause, updates included', () => {
    const e = engine();
    const cs: AlertChange[] = [];
    for (let i = 0; i < 25; i++) cs.push(...e.onStep(ratioStep(i, -0.5)));
    for (let i = 25; i < 80; i++) {
      const s = ratioStep(i, -0.5);
      s.scalars.loss = Number.NaN;
      cs.push(...e.onStep(s));
    }
    const nan = of(cs, 'nan.detected');
    expect(nan.filter((c) => c.action === 'update').length).toBeGreaterThan(2);
    for (const c of nan) {
      expect(c.evidence.likelyCause).toBe('learning_rate_too_high');
      expect(c.advice).toBe(nanDetected.adviceFor?.(c.evidence));
      expect(c.advice).not.toMatch(/No clear precursor/);
    }
  });
});

describe('grad_norm and sub-layers', () => {
  it('grad.exploding reads the reserved grad_norm scalar, with no layer stats at all', () => {
    const e = engine();
    const cs: AlertChange[] = [];
    for (let i = 0; i < 120; i++) {
      const g = i < 80 ? 0.5 + 0.05 * Math.sin(i) : 40;
      cs.push(...e.onStep(step(i, { loss: 1, grad_norm: g })));
    }
    const open = of(cs, 'grad.exploding', 'open')[0];
    expect(open?.evidence).toMatchObject({ source: 'grad_norm' });
    expect(open?.step).toBeLessThanOrEqual(83);
  });

  it('a non-finite grad_norm is a NaN in the gradients, on its step', () => {
    const e = engine();
    for (let i = 0; i < 10; i++) e.onStep(step(i, { loss: 1, grad_norm: 0.5 }));
    const c = of(e.onStep(step(10, { loss: 1, grad_norm: Number.POSITIVE_INFINITY })), 'nan.detected', 'open')[0];
    expect(c?.evidence).toMatchObject({ quantity: 'grad', name: 'grad_norm', firstStep: 10 });
  });

  it('recurrent weight matrices sent as sub-layers are recognised, grouped by module', () => {
    const ctx = new RunContext();
    ctx.setModel({
      layers: [
        { name: 'lstm.weight_ih_l0', kind: 'LSTM', activation: 'tanh', params: 512, fanIn: 4, fanOut: 128 },
        { name: 'lstm.weight_hh_l0', kind: 'LSTM', activation: 'tanh', params: 4096, fanIn: 32, fanOut: 128 },
        { name: 'head', kind: 'Linear', params: 128, fanIn: 32, fanOut: 4 },
      ],
    });
    expect(ctx.flags.get('lstm.weight_hh_l0')).toMatchObject({ recurrent: true, recurrentWeight: true, module: 'lstm' });
    expect(ctx.flags.get('lstm.weight_ih_l0')).toMatchObject({ recurrentWeight: false, module: 'lstm' });
    expect(ctx.flags.get('head')).toMatchObject({ recurrent: false, module: 'head' });
  });
});
