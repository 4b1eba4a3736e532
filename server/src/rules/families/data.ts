/**
 * Data normalization. The guide wants continuous inputs roughly in [-1, 1] / [0, 1] or
 * standardised, and the very same normalisation for training and evaluation data.
 */
import type { NumInputs } from '../types.js';
import { SECTIONS, defineRule } from '../rule.js';
import { Ema, Sustain, isEmbedding, r4 } from '../util.js';

const finiteInputs = (i: NumInputs | undefined): i is NumInputs =>
  i !== undefined && Number.isFinite(i.mean) && Number.isFinite(i.std) && Number.isFinite(i.min) && Number.isFinite(i.max);

export const inputsUnnormalized = defineRule({
  id: 'data.inputs_unnormalized',
  section: SECTIONS.data,
  severity: 'warning',
  condition:
    'Training input batches are far from standardised: |mean| > maxMeanAbs, std > maxStd, max |x| > maxAbs, ' +
    'or every value is tiny (max |x| < minMaxAbs), in at least `need` of the last `window` batches. ' +
    'Skipped when the first layer is an embedding (its inputs are token ids, not features).',
  thresholds: { maxMeanAbs: 1, maxStd: 5, maxAbs: 10, minMaxAbs: 1e-3, window: 10, need: 8 },
  requires: ['steps[].inputs {mean, std, min, max}'],
  advice:
    'Scale the inputs: standardise each continuous feature to mean 0 and std 1 (or min-max to [0, 1] / [-1, 1]); ' +
    'shrink large values and enlarge tiny ones. Compute the statistics on the training set and reuse them for eval.',
  clearAfter: 20,
  create(t) {
    const sustain = new Sustain(t.window, t.need);
    return {
      onStep(ctx, s, sink) {
        const i = s.inputs;
        if (!finiteInputs(i)) return;
        if (ctx.layers[0] && isEmbedding(ctx.layers[0].kind)) return;
        const maxAbs = Math.max(Math.abs(i.min), Math.abs(i.max));
        const reasons: string[] = [];
        if (Math.abs(i.mean) > t.maxMeanAbs) reasons.push('mean');
        if (i.std > t.maxStd) reasons.push('std');
        if (maxAbs > t.maxAbs) reasons.push('maxAbs');
        if (maxAbs < t.minMaxAbs) reasons.push('tiny');
        if (sustain.push(reasons.length > 0) && reasons.length > 0) {
          sink.fire(undefined, { mean: r4(i.mean), std: r4(i.std), min: r4(i.min), max: r4(i.max), reasons, ...t });
        } else if (reasons.length === 0) {
          sink.clear();
        }
      },
    };
  },
});

export const trainEvalMismatch = defineRule({
  id: 'data.train_eval_mismatch',
  section: SECTIONS.data,
  severity: 'warning',
  condition:
    'An eval input batch differs from the running training input statistics: the means differ by more than ' +
    'maxMeanShift training standard deviations, or the stds differ by more than a factor maxStdRatio.',
  thresholds: { maxMeanShift: 0.5, maxStdRatio: 2, minTrainSteps: 5 },
  requires: ['steps[].inputs', 'eval.inputs'],
  advice:
    'Training and evaluation inputs are not on the same scale: apply exactly the same normalisation (the ' +
    'statistics fitted on the training set) to both.',
  clearAfter: 2,
  create(t) {
    const mean = new Ema(0.05);
    const std = new Ema(0.05);
    let n = 0;
    return {
      onStep(_ctx, s) {
        if (!finiteInputs(s.inputs)) return;
        mean.push(s.inputs.mean);
        std.push(s.inputs.std);
        n++;
      },
      onEval(_ctx, ev, sink) {
        const i = ev.inputs;
        if (!finiteInputs(i) || n < t.minTrainSteps || mean.value === undefined || std.value === undefined) return;
        const tStd = Math.max(std.value, 1e-12);
        const shift = Math.abs(i.mean - mean.value) / tStd;
        const ratio = Math.max(i.std, 1e-12) / tStd;
        const stdRatio = Math.max(ratio, 1 / ratio);
        if (shift > t.maxMeanShift || stdRatio > t.maxStdRatio) {
          sink.fire(undefined, {
            split: ev.split,
            evalMean: r4(i.mean),
            evalStd: r4(i.std),
            trainMean: r4(mean.value),
            trainStd: r4(std.value),
            meanShiftInTrainStd: r4(shift),
            stdRatio: r4(stdRatio),
          });
        } else {
          sink.clear();
        }
      },
    };
  },
});

export default [inputsUnnormalized, trainEvalMismatch];
