/**
 * The diagnosis layer on its own: alert changes in, a ranked verdict out. Causal precedence
 * (docs/diagnosis.md's cause graph), confidence, advice with the run's numbers, the shared
 * schema, and state bounded by the number of rules.
 */
import { describe, expect, it } from 'vitest';
import { Value } from 'typebox/value';
import { Diagnosis, ROOT_CAUSES, type Severity } from '@gradwatch/shared';
import { Diagnoser, PRODUCES, TITLES, type RunFacts } from '../../src/diagnosis/index.js';
import type { AlertChange } from '../../src/rules/index.js';

const FACTS: RunFacts = { step: 0, ended: false };

function change(rule: string, severity: Severity, step: number, evidence: Record<string, unknown> = {}, layers?: string[], action: AlertChange['action'] = 'open'): AlertChange {
  const c: AlertChange = { action, rule, section: 's', severity, step, firstStep: step, lastStep: step, evidence, advice: '' };
  if (layers) {
    c.layers = layers;
    c.layer = layers[0];
  }
  return c;
}

function verdict(changes: AlertChange[], facts: RunFacts = FACTS): Diagnosis[] {
  const d = new Diagnoser();
  for (const c of changes) d.observe(c);
  return d.diagnoses(facts);
}

describe('causal precedence', () => {
  it('lr too high → divergence → NaN → dead units: one critical verdict naming the rate', () => {
    const ds = verdict([
      change('lr.update_ratio_high', 'warning', 20, { ratio: -1.2, lr: 0.5 }, ['fc1', 'fc2']),
      change('lr.loss_diverging', 'warning', 25, { lossEma: 30, initialLoss: 1.4 }),
      change('nan.detected', 'critical', 40, { likelyCause: 'learning_rate_too_high', quantity: 'loss' }),
      change('act.dead_units', 'warning', 60, { fracDeadUnits: 0.9 }, ['fc1']),
    ]);
    expect(ds).toHaveLength(1);
    const [d] = ds;
    expect(d).toMatchObject({ cause: 'lr_too_high', severity: 'critical', rank: 1, firstStep: 20, active: true });
    expect(d?.symptoms.map((s) => s.rule)).toEqual(['lr.update_ratio_high', 'lr.loss_diverging', 'nan.detected', 'act.dead_units']);
    expect(d?.symptoms[0]?.layers).toEqual(['fc1', 'fc2']);
    expect(d?.explains).toEqual(expect.arrayContaining(['dead_relu']));
    expect(d?.confidence).toBeGreaterThan(0.9);
  });

  it('zero init → unchanged weights, vanishing gradients, dead units: bad init', () => {
    const ds = verdict([
      change('init.constant', 'info', 0, { allZero: true }, ['fc1', 'fc2']),
      change('act.dead_units', 'warning', 75, { fracDeadUnits: 1 }, ['fc1']),
      change('grad.vanishing_layer', 'warning', 75, {}, ['fc1']),
      change('weights.unchanged', 'warning', 95, {}, ['fc1']),
    ]);
    expect(ds.map((d) => d.cause)).toEqual(['bad_init']);
    expect(ds[0]?.explains).toEqual(expect.arrayContaining(['dead_relu', 'weights_not_updating']));
    expect(ds[0]?.advice).toContain('fc1, fc2 start with all weights equal (zero)');
  });

  it('unnormalized inputs → activation scale → NaN: the inputs', () => {
    const ds = verdict([
      change('data.inputs_unnormalized', 'warning', 8, { mean: 120, std: 45, max: 255 }),
      change('act.saturated', 'warning', 30, { fracSaturated: 0.8 }, ['fc1']),
      change('nan.detected', 'critical', 50, { likelyCause: 'exploding_gradients' }),
    ]);
    expect(ds[0]).toMatchObject({ cause: 'inputs_unnormalized', severity: 'critical' });
    expect(ds).toHaveLength(1);
    expect(ds[0]?.advice).toContain('mean 120, std 45, max 260');
  });

  it('a symptom nothing upstream explains is its own diagnosis', () => {
    expect(verdict([change('act.dead_units', 'warning', 30, { fracDeadUnits: 0.7 }, ['fc2'])]).map((d) => d.cause)).toEqual(['dead_relu']);
    expect(verdict([change('nan.detected', 'critical', 12, { likelyCause: 'unknown' })])[0]).toMatchObject({ cause: 'numerical_nan', severity: 'critical' });
    expect(verdict([change('nan.detected', 'critical', 12, { likelyCause: 'input_data' })])[0]?.cause).toBe('bad_input_data');
  });

  it('an upstream cause seen long after the symptom does not absorb it', () => {
    const ds = verdict([
      change('act.dead_units', 'warning', 10, { fracDeadUnits: 0.7 }, ['fc2']),
      change('lr.update_ratio_high', 'warning', 400, { ratio: -1.5, lr: 0.1 }, ['fc1']),
    ]);
    expect(ds.map((d) => d.cause).sort()).toEqual(['dead_relu', 'lr_too_high']);
  });

  it('info alerts are hints: an info-only run has no warning diagnosis', () => {
    const ds = verdict([change('batch.too_small', 'info', 0, { batchSize: 8 }), change('lr.config_out_of_range', 'info', 0, { lr: 0.3, max: 0.1 })]);
    expect(ds.length).toBeGreaterThan(0);
    expect(ds.every((d) => d.severity === 'info')).toBe(true);
  });
});

describe('advice and evidence', () => {
  it('puts the run\'s numbers into the advice', () => {
    const [d] = verdict([change('lr.update_ratio_high', 'warning', 20, { ratio: -2, lr: 0.5 }, ['fc1'])]);
    expect(d?.advice).toContain('from 0.5 to about 0.05');
    expect(d?.evidence).toContain('fc1');
    const [low] = verdict([change('lr.update_ratio_low', 'warning', 300, { ratio: -6, lr: 1e-6 }, ['fc1'])]);
    expect(low?.advice).toContain('from 1.0e-6 to about 0.001');
    const [bs] = verdict([change('batch.too_small', 'warning', 0, { batchSize: 1 })], { ...FACTS, batchSize: 1 });
    expect(bs?.advice).toContain('from 1 to 32');
    const [ex] = verdict([change('grad.exploding', 'warning', 90, { gradNorm: 40, runningMedian: 2, initialMedian: 0.38, topLayer: 'rnn.weight_hh_l0' })]);
    expect(ex?.advice).toContain('max_norm=0.4');
    expect(ex?.advice).toContain('rnn.weight_hh_l0');
  });

  it('every diagnosis matches the shared Diagnosis schema; every cause has a title', () => {
    const ds = verdict([
      change('reg.too_strong', 'warning', 0, { weightDecay: 0.5 }),
      change('epochs.overfitting', 'warning', 300, { evalLoss: 1.2, bestEvalLoss: 0.5, bestStep: 100 }),
      change('output.loss_mismatch', 'warning', 0, { explanation: ['the loss applies softmax to logits itself'] }),
    ]);
    expect(ds.length).toBe(3);
    for (const d of ds) expect(Value.Check(Diagnosis, d), JSON.stringify(d)).toBe(true);
    expect(ds.map((d) => d.rank)).toEqual([1, 2, 3]);
    for (const c of ROOT_CAUSES) expect(TITLES[c].length).toBeGreaterThan(3);
    for (const [up, downs] of Object.entries(PRODUCES)) for (const d of downs) expect(ROOT_CAUSES, `${up} → ${d}`).toContain(d);
  });

  it('resolved alerts stay in the verdict, marked inactive', () => {
    const open = change('data.train_eval_mismatch', 'warning', 50, { evalMean: 50, evalStd: 20, trainMean: 0, trainStd: 1 });
    const ds = verdict([open, { ...open, action: 'resolve', step: 120, lastStep: 75 }]);
    expect(ds[0]).toMatchObject({ cause: 'train_eval_mismatch', active: false, lastStep: 75 });
  });
});

describe('bounded state', () => {
  it('keeps one symptom per rule however long the run, and caches the verdict between changes', () => {
    const d = new Diagnoser();
    for (let i = 0; i < 20_000; i++) {
      d.observe(change('lr.update_ratio_high', 'warning', i, { ratio: -1.5, lr: 0.1 }, [`fc${i % 50}`], i === 0 ? 'open' : 'update'));
    }
    const a = d.diagnoses(FACTS);
    expect(a).toHaveLength(1);
    expect(a[0]?.symptoms).toHaveLength(1);
    expect(a[0]?.symptoms[0]?.layers).toHaveLength(50);
    expect(d.diagnoses(FACTS)).toBe(a);
  });
});

describe('docs/diagnosis.md', () => {
  it('shows the cause graph the code uses and documents every cause', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../../docs/diagnosis.md', import.meta.url), 'utf8');
    const edges = [...doc.matchAll(/^\* `([a-z_]+)` → (.+)$/gm)].map((m) => [m[1], [...(m[2] ?? '').matchAll(/`([a-z_]+)`/g)].map((x) => x[1])] as const);
    expect(Object.fromEntries(edges)).toEqual(Object.fromEntries(Object.entries(PRODUCES).map(([k, v]) => [k, [...(v ?? [])]])));
    for (const c of ROOT_CAUSES) expect(doc, c).toContain(`| \`${c}\` | ${TITLES[c]} |`);
  });
});
