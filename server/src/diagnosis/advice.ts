/**
 * What a diagnosis says: a one-line summary of its symptoms and one piece of advice, with the
 * run's own numbers wherever the evidence has them ("lower the learning rate from 0.5 to about
 * 0.05"). Written in our words; each function reads only the evidence its rules send.
 */
import type { RootCause } from '@gradwatch/shared';
import type { Symptom } from './symptoms.js';

export interface RunFacts {
  step: number;
  ended: boolean;
  lr?: number | undefined;
  batchSize?: number | undefined;
  optimizer?: string | undefined;
  weightDecay?: number | undefined;
  gradClip?: number | undefined;
  gradNorm?: number | undefined;
}

/** A number as people write it: 2 significant digits, no exponent noise for ordinary values. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e-3 && a < 1e5) return String(Number(x.toPrecision(2)));
  return x.toExponential(1).replace('e+', 'e');
}

const n = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const find = (ss: Symptom[], rule: string): Symptom | undefined => ss.find((s) => s.rule === rule);
const layersOf = (s: Symptom | undefined, max = 4): string =>
  !s || s.layers.length === 0 ? '' : s.layers.length > max ? `${s.layers.slice(0, max).join(', ')} and ${s.layers.length - max} more` : s.layers.join(', ');

function phrase(s: Symptom): string {
  const e = s.latest;
  const on = s.layers.length ? ` on ${layersOf(s, 3)}` : '';
  const at = s.firstStep === s.lastStep ? `at step ${s.firstStep}` : `from step ${s.firstStep}`;
  switch (s.rule) {
    case 'nan.detected':
      return `NaN/Inf at step ${s.firstStep} in ${String(s.first.where instanceof Array ? s.first.where[0] : s.first.quantity)}`;
    case 'lr.loss_diverging':
      return `loss rose to ${fmt(Number(e.lossEma))} (start ${fmt(Number(e.initialLoss))}) ${at}`;
    case 'lr.update_ratio_high':
    case 'lr.update_ratio_low':
      return `update/weight ratio 10^${fmt(Number(e.ratio))}${on} ${at}`;
    case 'data.inputs_unnormalized':
      return `input batches with mean ${fmt(Number(e.mean))}, std ${fmt(Number(e.std))}, max ${fmt(Number(e.max))} ${at}`;
    case 'epochs.overfitting':
      return `eval loss ${fmt(Number(e.evalLoss))} vs best ${fmt(Number(e.bestEvalLoss))} at step ${String(e.bestStep)}`;
    case 'grad.exploding':
      return `gradient norm ${fmt(Number(e.gradNorm))} vs median ${fmt(Number(e.runningMedian))} ${at}`;
    case 'act.dead_units':
      return `${fmt(100 * Number(e.fracDeadUnits))}% dead units${on} ${at}`;
    case 'init.scale':
      return `initial weight std ${fmt(Number(s.first.std))} vs ${fmt(Number(s.first.expected))} (${String(s.first.scheme)})${on}`;
    default:
      return `${s.rule}${on} ${at}`;
  }
}

export function summarize(ss: Symptom[]): string {
  return ss.slice(0, 4).map(phrase).join('; ') + (ss.length > 4 ? `; and ${ss.length - 4} more` : '');
}

/** The most extreme value of `key` over the symptoms' evidence. */
function extreme(ss: (Symptom | undefined)[], key: string, pick: (a: number, b: number) => number): number | undefined {
  let out: number | undefined;
  for (const s of ss) {
    for (const e of s ? [s.first, s.latest] : []) {
      const v = n(e[key]);
      if (v !== undefined) out = out === undefined ? v : pick(out, v);
    }
  }
  return out;
}

/** A factor between lo and hi, rounded to a power-of-ten-ish step people use (3, 10, 30, 100...). */
function niceFactor(f: number, lo: number, hi: number): number {
  const c = Math.min(hi, Math.max(lo, f));
  const steps = [3, 10, 30, 100, 300, 1000];
  return steps.reduce((best, s) => (Math.abs(Math.log(s / c)) < Math.abs(Math.log(best / c)) ? s : best), steps[0] ?? 10);
}

function lrTooHigh(ss: Symptom[], f: RunFacts): string {
  const ratio = extreme([find(ss, 'lr.update_ratio_high'), find(ss, 'nan.detected')], 'ratio', Math.max) ??
    n((find(ss, 'nan.detected')?.first.preceding as Record<string, unknown> | undefined)?.maxUpdateRatio);
  const factor = ratio !== undefined ? niceFactor(10 ** (ratio + 3), 10, 1000) : 10;
  const lr = extreme([find(ss, 'lr.update_ratio_high')], 'lr', Math.max) ?? f.lr;
  const head = lr !== undefined ? `Lower the learning rate from ${fmt(lr)} to about ${fmt(lr / factor)}` : `Lower the learning rate about ${factor}x`;
  return `${head}; add a warm-up and clip gradients (norm 1.0) so one bad batch cannot throw the weights off, and restart from a checkpoint before the blow-up.`;
}

function lrTooLow(ss: Symptom[], f: RunFacts): string {
  const ratio = extreme([find(ss, 'lr.update_ratio_low')], 'ratio', Math.min);
  const factor = ratio !== undefined ? niceFactor(10 ** (-3 - ratio), 10, 1000) : 10;
  const lr = extreme([find(ss, 'lr.update_ratio_low')], 'lr', Math.max) ?? f.lr;
  return lr !== undefined
    ? `Raise the learning rate from ${fmt(lr)} to about ${fmt(lr * factor)} (updates should move weights by about 1/1000 per step), or switch to Adam at 1e-3.`
    : `Raise the learning rate about ${factor}x, or switch to an adaptive optimizer such as Adam.`;
}

function badInit(ss: Symptom[]): string {
  const c = find(ss, 'init.constant');
  if (c) return `${layersOf(c) || 'Some layers'} start with all weights equal${c.first.allZero === true ? ' (zero)' : ''}, so their units stay identical: initialise weights randomly (He/Kaiming for ReLU, Xavier for tanh/sigmoid), biases may stay at zero.`;
  const s = find(ss, 'init.scale');
  if (s) {
    const ratio = Number(s.first.ratio);
    return `${layersOf(s) || 'A layer'} starts with weight std ${fmt(Number(s.first.std))}, ${fmt(ratio >= 1 ? ratio : 1 / ratio)}x too ${ratio >= 1 ? 'large' : 'small'} for its fan-in: use ${String(s.first.scheme) === 'he' ? 'He/Kaiming' : 'Xavier/Glorot'} init (std about ${fmt(Number(s.first.expected))}).`;
  }
  return 'Revisit the weight initialisation: He/Kaiming for ReLU layers, Xavier for tanh/sigmoid, or add normalisation layers.';
}

export function adviceFor(cause: RootCause, ss: Symptom[], f: RunFacts): string {
  switch (cause) {
    case 'lr_too_high':
      return lrTooHigh(ss, f);
    case 'lr_too_low':
      return lrTooLow(ss, f);
    case 'bad_init':
      return badInit(ss);
    case 'inputs_unnormalized': {
      const s = find(ss, 'data.inputs_unnormalized');
      const e = s?.latest ?? {};
      return `Standardise the inputs${s ? ` (batches now have mean ${fmt(Number(e.mean))}, std ${fmt(Number(e.std))}, max ${fmt(Number(e.max))})` : ''}: subtract the training-set mean and divide by its std per feature, and apply the same transform to eval data.`;
    }
    case 'train_eval_mismatch': {
      const e = find(ss, 'data.train_eval_mismatch')?.latest;
      return `Apply the training set's normalisation to eval data too${e ? ` (eval inputs: mean ${fmt(Number(e.evalMean))}, std ${fmt(Number(e.evalStd))}; training: mean ${fmt(Number(e.trainMean))}, std ${fmt(Number(e.trainStd))})` : ''}.`;
    }
    case 'bad_input_data': {
      const s = find(ss, 'nan.detected');
      return `The input batch${s ? ` at step ${s.firstStep}` : ''} holds NaN or Inf: find the records responsible (a division by zero or a missing value upstream), clean or drop them, and check the data once before training.`;
    }
    case 'dead_relu': {
      const s = find(ss, 'act.dead_units');
      const frac = extreme([s], 'fracDeadUnits', Math.max);
      return `${frac !== undefined ? `${fmt(100 * frac)}% of the units` : 'Many units'}${s ? ` of ${layersOf(s)}` : ''} output zero for every input: check that biases do not start negative, use He init and a lower learning rate, or switch to LeakyReLU.`;
    }
    case 'saturating_activations':
      return 'Replace sigmoid/tanh in the hidden layers with ReLU-family activations, or add normalisation (BatchNorm/LayerNorm) so units stay out of their flat tails; keep sigmoid only at the output.';
    case 'vanishing_gradients': {
      const r = extreme([find(ss, 'grad.vanishing')], 'gradNormRatio', Math.min);
      return `Gradients fade towards the first layers${r !== undefined ? ` (first/last grad norm ${fmt(r)})` : ''}: add normalisation layers or residual connections, use ReLU-family activations with He init.`;
    }
    case 'exploding_gradients': {
      const med = extreme([find(ss, 'grad.exploding')], 'initialMedian', Math.min) ?? extreme([find(ss, 'grad.exploding')], 'runningMedian', Math.min);
      const top = find(ss, 'grad.exploding')?.latest.topLayer;
      const rec = [typeof top === 'string' ? top : '', ...ss.flatMap((s) => s.layers)].find((l) => /weight_hh/.test(l));
      const clip = med !== undefined ? Math.max(0.1, Number(med.toPrecision(1))) : 1;
      return `Clip the gradient norm: torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=${fmt(clip)}) before optimizer.step()${rec ? ` (the recurrent weights ${rec} carry the spikes)` : ''}; lower the learning rate if it persists.`;
    }
    case 'overfitting': {
      const e = find(ss, 'epochs.overfitting')?.latest;
      return `Stop around step ${e ? String(e.bestStep) : 'of the best evaluation'} and keep that checkpoint (early stopping), then add regularisation: weight decay (AdamW 0.01-0.1), dropout, augmentation or more data.`;
    }
    case 'regularization_too_strong': {
      const e = find(ss, 'reg.too_strong')?.latest;
      const wd = n(e?.weightDecay) ?? n(e?.l2) ?? n(e?.l1) ?? f.weightDecay;
      return `${wd !== undefined ? `Lower the penalty from ${fmt(wd)} to about 1e-4` : 'Lower the L1/L2 penalty to about 1e-4'}${f.optimizer && !/adamw/i.test(f.optimizer) ? `, or use decoupled weight decay (AdamW)` : ''}: the weights are pinned near zero and cannot fit the data.`;
    }
    case 'output_loss_mismatch': {
      const e = find(ss, 'output.loss_mismatch')?.latest;
      const why = Array.isArray(e?.explanation) ? String(e.explanation[0]) : undefined;
      return `${why ? `${why[0]?.toUpperCase() ?? ''}${why.slice(1)}. ` : ''}With PyTorch, feed raw logits to CrossEntropyLoss (drop the final softmax); for probabilities use NLLLoss on log_softmax.`;
    }
    case 'minibatch_too_small':
      return `${f.batchSize !== undefined ? `Raise the batch size from ${fmt(f.batchSize)} to 32` : 'Use batches of 32'} (16-128 is common), or accumulate gradients over several batches; if memory forbids it, lower the learning rate instead.`;
    case 'numerical_nan': {
      const s = find(ss, 'nan.detected');
      return `A value became NaN/Inf${s ? ` at step ${s.firstStep}` : ''} without a blow-up before it: look for log(0), division by zero or sqrt of a negative in the loss or a custom layer (use log_softmax, add an epsilon), then clip gradients.`;
    }
    case 'weights_not_updating': {
      const s = find(ss, 'weights.unchanged');
      return `${layersOf(s) || 'Some layers'} never change: make sure their parameters are passed to the optimizer and require gradients (or mark them trainable:false if frozen on purpose).`;
    }
    case 'slow_optimizer':
      return 'Plain SGD is crawling: add momentum 0.9 (or Nesterov), or switch to Adam/AdamW at about 1e-3.';
    case 'schedule_mismatch':
      return 'Divide the schedule\'s iteration counts by the number of workers, or step it per epoch.';
    case 'network_shape':
      return 'Revisit the layer sizes: see the listed alerts for the layers concerned.';
  }
}
