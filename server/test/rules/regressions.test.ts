/**
 * The wrong-cause cases of issue 12, each pinned on a real PyTorch recording of the corpus
 * (server/test/diagnosis/corpus, tools/corpus/record.py).
 */
import { describe, expect, it } from 'vitest';
import { loadRun, replay, type ReplayResult } from '../../../tools/corpus/replay.js';
import type { AlertChange } from '../../src/rules/index.js';
import { nanDetected } from '../../src/rules/families/nan.js';

const runs = new Map<string, ReplayResult>();
function run(name: string): ReplayResult {
  let r = runs.get(name);
  if (!r) runs.set(name, (r = replay(loadRun(name))));
  return r;
}
const opens = (r: ReplayResult, rule: string): AlertChange[] => r.changes.filter((c) => c.rule === rule && c.action === 'open');

describe('regressions from real recordings', () => {
  it('SGD lr 8 (loss 1.4 → hundreds in 5 steps): divergence reported from step 0, named a learning rate too high', () => {
    const r = run('mlp-sgd-lr8');
    expect(opens(r, 'lr.loss_diverging')[0]?.step).toBeLessThanOrEqual(5);
    expect(r.final[0]).toMatchObject({ cause: 'lr_too_high', severity: 'critical' });
    expect(r.final[0]?.advice).toMatch(/from 8 to about/);
    expect(r.final.map((d) => d.cause)).not.toContain('overfitting');
  });

  it('a healthy run on fresh data (never a second epoch) gets no overfitting alert from noisy evals', () => {
    expect(opens(run('mlp-fresh-data'), 'epochs.overfitting')).toEqual([]);
    const o = opens(run('mlp-overfit'), 'epochs.overfitting')[0];
    expect(o?.severity).toBe('warning');
  });

  it('a blow-up with Adam lr 0.5 is not labelled overfitting nor blamed on the init', () => {
    const r = run('mlp-adam-lr05');
    expect(opens(r, 'init.scale')).toEqual([]);
    expect(opens(r, 'epochs.overfitting').filter((c) => c.severity !== 'info')).toEqual([]);
    expect(r.final[0]?.cause).toBe('lr_too_high');
  });

  it('init is judged before the first update and knows the transformer init, norms and embeddings', () => {
    expect(opens(run('transformer-bert-init'), 'init.scale')).toEqual([]);
    expect(opens(run('cnn-batchnorm'), 'init.scale')).toEqual([]);
    const r = run('mlp-tanh-big-init');
    expect(opens(r, 'init.scale')[0]).toMatchObject({ step: 0, severity: 'warning' });
    // The check finds several layers at step 0: the open names the first, the updates of that step list them all.
    const atStart = r.changes.filter((c) => c.rule === 'init.scale' && c.step === 0);
    expect(atStart.at(-1)?.layers?.length).toBeGreaterThan(1);
  });

  it('exploding gradients in a recurrent net are reported from grad_norm, naming the recurrent matrix', () => {
    const r = run('rnn-exploding');
    const o = opens(r, 'grad.exploding')[0];
    expect(o?.evidence).toMatchObject({ source: 'grad_norm', topLayer: 'rnn.weight_hh_l0' });
    expect(r.final[0]?.cause).toBe('exploding_gradients');
    expect(r.final[0]?.advice).toContain('rnn.weight_hh_l0');
  });

  it('the NaN alert\'s advice never flips away from its own evidence', () => {
    for (const name of ['mlp-sgd-lr8', 'mlp-log0-nan', 'mlp-inf-record']) {
      const nan = run(name).changes.filter((c) => c.rule === 'nan.detected' && c.action !== 'resolve');
      expect(nan.length, name).toBeGreaterThan(1);
      for (const c of nan) expect(c.advice, name).toBe(nanDetected.adviceFor?.(c.evidence));
    }
  });

  it('one alert per rule and episode: no flapping on a batch-1 run, one zero-init alert per rule', () => {
    for (const name of ['mlp-batch1', 'mlp-zero-init', 'mlp-deep-sigmoid', 'mlp-dead-relu']) {
      const r = run(name);
      const count = new Map<string, number>();
      for (const c of r.changes) if (c.action === 'open') count.set(c.rule, (count.get(c.rule) ?? 0) + 1);
      for (const [rule, n] of count) expect(n, `${name} ${rule}`).toBe(1);
    }
  });

  it('alerts stay open no longer than the run: every run ends with none open', () => {
    for (const name of ['mlp-batch1', 'mlp-zero-init', 'lstm-clip', 'rnn-exploding', 'mlp-sgd-lr8']) {
      const open = new Set<string>();
      for (const c of run(name).changes) {
        const k = `${c.rule}|${c.layer ?? ''}`;
        if (c.action === 'resolve') open.delete(k);
        else open.add(k);
      }
      expect([...open], name).toEqual([]);
    }
    const endResolves = run('mlp-zero-init').changes.filter((c) => c.reason === 'ended with the run');
    expect(endResolves.length).toBeGreaterThan(0);
  });
});
