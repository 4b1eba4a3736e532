/**
 * Network shape: recurrent nets on long sequences (truncated BPTT) and hidden-unit sizing
 * (the guide's RBM/autoencoder advice: no hidden layer under a quarter of the input, and an
 * autoencoder's code layer smaller than its input, or it can learn the identity).
 */
import type { LayerInfo } from '@gradwatch/shared';
import { SECTIONS, defineRule } from '../rule.js';
import { isDense, isRecurrent, norm } from '../util.js';
import type { RunContext } from '../context.js';

export const noTbptt = defineRule({
  id: 'rnn.no_tbptt',
  section: SECTIONS.rnn,
  severity: 'info',
  condition:
    'The model has a recurrent layer (LSTM/GRU/RNN), config.sequenceLength is above maxSequence, and ' +
    'config.tbpttLength is absent or not shorter than the sequence.',
  thresholds: { maxSequence: 200 },
  requires: ['model.layers[].kind', 'config.sequenceLength (config.tbpttLength when truncation is used)'],
  advice:
    'Back-propagating through very long sequences makes each update expensive and gradients unstable: use ' +
    'truncated BPTT (e.g. 50-200 steps per segment).',
  clearAfter: 1,
  create(t) {
    return {
      check(ctx, sink) {
        const rec = ctx.layers.filter((l) => isRecurrent(l.kind));
        const seq = ctx.cfgNum('sequenceLength');
        if (!rec.length || seq === undefined || seq <= t.maxSequence) return;
        const tb = ctx.cfgNum('tbpttLength');
        if (tb !== undefined && tb > 0 && tb < seq) return;
        sink.fire(undefined, { sequenceLength: seq, tbpttLength: tb ?? null, recurrentLayers: rec.map((l) => l.name).slice(0, 10) });
      },
    };
  },
});

/** Input width of an MLP-style network: the fan-in of its first layer, when that layer is dense. */
function denseInput(ctx: RunContext): { input: number; hiddenDense: LayerInfo[] } | undefined {
  const ls = ctx.layers;
  const first = ls[0];
  if (!first || !isDense(first.kind) || !first.fanIn || ls.length < 2) return undefined;
  return { input: first.fanIn, hiddenDense: ls.slice(0, -1).filter((l) => isDense(l.kind) && l.fanOut) };
}

export const hiddenTooSmall = defineRule({
  id: 'units.hidden_too_small',
  section: SECTIONS.units,
  severity: 'info',
  condition:
    'In a network whose first layer is dense, a hidden dense layer has fewer than minFraction × input units ' +
    '(fanOut < fanIn of the first layer × minFraction).',
  thresholds: { minFraction: 0.25 },
  requires: ['model.layers[] with kind, fanIn, fanOut'],
  advice:
    'This hidden layer is narrower than a quarter of the input, which can throw information away early. ' +
    'Consider widening it (e.g. 784 inputs → 500 → 250).',
  clearAfter: 1,
  create(t) {
    return {
      check(ctx, sink) {
        const d = denseInput(ctx);
        if (!d) return;
        for (const l of d.hiddenDense) {
          const w = l.fanOut ?? 0;
          if (w < t.minFraction * d.input) sink.fire(l.name, { units: w, inputUnits: d.input, minFraction: t.minFraction });
        }
      },
    };
  },
});

export const bottleneck = defineRule({
  id: 'units.bottleneck_not_smaller',
  section: SECTIONS.units,
  severity: 'warning',
  condition:
    'config.task is "autoencoder" (or "reconstruction") and no hidden dense layer is narrower than the input.',
  thresholds: {},
  requires: ['config.task', 'model.layers[] with kind, fanIn, fanOut'],
  advice:
    'An autoencoder whose narrowest hidden layer is as wide as its input can simply copy the input through. ' +
    'Give the hidden layers fewer units than the input so it must compress.',
  clearAfter: 1,
  create() {
    return {
      check(ctx, sink) {
        const task = norm(ctx.cfgStr('task'));
        if (task !== 'autoencoder' && task !== 'reconstruction') return;
        const d = denseInput(ctx);
        if (!d || d.hiddenDense.length === 0) return;
        const narrowest = Math.min(...d.hiddenDense.map((l) => l.fanOut ?? Number.POSITIVE_INFINITY));
        if (narrowest >= d.input) sink.fire(undefined, { bottleneckUnits: narrowest, inputUnits: d.input });
      },
    };
  },
});

export default [noTbptt, hiddenTooSmall, bottleneck];
