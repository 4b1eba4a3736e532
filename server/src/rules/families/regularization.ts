/**
 * Regularization. L1/L2 help against overfitting, but a coefficient that is too large
 * (the guide's usual L2 range is 1e-3..1e-6) pins the weights near zero and stops learning.
 * AdamW-style decoupled weight decay is not an L2 penalty: its 0.01 default shrinks weights by
 * lr × 0.01 per step and is healthy, so only coupled optimizers' weightDecay counts as L2.
 */
import { PerLayerSustain, SECTIONS, defineRule } from '../rule.js';
import { norm, r4 } from '../util.js';
import { isTrainable, type RunContext } from '../context.js';

/** Optimizers whose weight_decay adds wd × w to the gradient, i.e. an L2 penalty of wd/2·|w|². */
const COUPLED = new Set([
  'sgd', 'momentum', 'nesterov', 'nesterovs', 'adam', 'rmsprop', 'adagrad', 'adadelta', 'adamax', 'nadam', 'radam',
]);

function coupledWeightDecay(ctx: RunContext): number | undefined {
  const type = norm(ctx.optimizerType());
  if (!COUPLED.has(type)) return undefined; // AdamW, Lion, LAMB... or unknown: never guess
  if (ctx.model?.optimizer?.decoupled_weight_decay === true || ctx.config.decoupledWeightDecay === true) return undefined;
  return ctx.optimizerNum('weightDecay');
}

export const tooStrong = defineRule({
  id: 'reg.too_strong',
  section: SECTIONS.reg,
  severity: 'warning',
  condition:
    'config.l1 or config.l2, or the weight decay of an optimizer that couples it into the gradient (SGD, Adam, ' +
    'RMSprop, Adagrad...), is above `max`. Decoupled decay (AdamW, Lion, LAMB) is not counted.',
  thresholds: { max: 1e-3 },
  requires: ['config.l1 / config.l2, or optimizer type + weightDecay'],
  advice:
    'This L1/L2 coefficient is above the usual 1e-3..1e-6 range and can over-penalise the weights so the ' +
    'network cannot learn. Lower it (1e-4 is a common start), or use decoupled weight decay (AdamW).',
  clearAfter: 1,
  create(t) {
    return {
      check(ctx, sink) {
        const found: Record<string, number> = {};
        const l1 = ctx.cfgNum('l1');
        const l2 = ctx.cfgNum('l2');
        const wd = coupledWeightDecay(ctx);
        if (l1 !== undefined && l1 > t.max) found.l1 = l1;
        if (l2 !== undefined && l2 > t.max) found.l2 = l2;
        if (wd !== undefined && wd > t.max) found.weightDecay = wd;
        if (Object.keys(found).length) sink.fire(undefined, { ...found, optimizer: ctx.optimizerType() ?? null, max: t.max });
      },
    };
  },
});

export const weightsCollapsing = defineRule({
  id: 'reg.weights_collapsing',
  section: SECTIONS.reg,
  severity: 'warning',
  condition:
    'A trainable layer\'s param.meanAbs has fallen below collapseFrac × its first observed value while the loss ' +
    'has removed less than maxProgress of its starting value, in `need` of the last `window` observations.',
  thresholds: { collapseFrac: 0.1, maxProgress: 0.1, window: 20, need: 16 },
  requires: ['layer param stats (meanAbs)', 'scalars.loss'],
  advice:
    'The weights of this layer are shrinking towards zero while the loss does not improve: regularisation ' +
    '(L1/L2 or weight decay) overpowers the data. Reduce it.',
  clearAfter: 20,
  create(t) {
    const first: Array<number | undefined> = []; // by LayerRow.id
    let firsts = 0;
    const per = new PerLayerSustain(t.window, t.need);
    return {
      onStep(ctx, s, sink) {
        const progress = ctx.loss.progress();
        // Once the loss has clearly improved the condition cannot hold: only first sightings matter then.
        const learning = progress !== undefined && progress >= t.maxProgress;
        if (learning && firsts > 0) {
          for (const name of per.layers()) sink.clear(name);
          return;
        }
        for (const row of ctx.rows) {
          const m = row.stats.param?.meanAbs;
          if (m === undefined || !Number.isFinite(m) || !isTrainable(row)) continue;
          const m0 = first[row.id];
          if (m0 === undefined) {
            first[row.id] = m;
            firsts++;
            continue;
          }
          if (!(m0 > 0) || progress === undefined) continue;
          const hit = m < t.collapseFrac * m0 && progress < t.maxProgress;
          if (per.push(sink, row, hit) && hit) {
            sink.fire(row.name, { meanAbs: r4(m), initialMeanAbs: r4(m0), lossProgress: r4(progress) });
          }
        }
      },
    };
  },
});

const DROP_FRAMEWORKS = /pytorch|torch|keras|tensorflow|^tf|jax|flax|lightning|mxnet|paddle/i;
const RETAIN_FRAMEWORKS = /dl4j|deeplearning4j/i;

export const dropoutSemantics = defineRule({
  id: 'reg.dropout_semantics',
  section: SECTIONS.reg,
  severity: 'warning',
  condition:
    'config.dropout read with config.dropoutMeaning ("drop" or "retain"; else inferred from run.framework: ' +
    'PyTorch/Keras/TF drop, DL4J retain) discards more than maxDrop of the activations: warning. With no way ' +
    'to tell the meaning and dropout > maxDrop: info.',
  thresholds: { maxDrop: 0.5 },
  requires: ['config.dropout', 'config.dropoutMeaning or run.framework'],
  advice:
    'Check what your framework\'s dropout number means: PyTorch and Keras take the probability of DROPPING a unit, ' +
    'DL4J\'s dropout(x) the probability of KEEPING it. 0.5 is the usual value; dropping most units starves the network.',
  clearAfter: 1,
  create(t) {
    return {
      check(ctx, sink) {
        const p = ctx.cfgNum('dropout');
        if (p === undefined || p <= 0 || p > 1) return;
        const explicit = norm(ctx.cfgStr('dropoutMeaning'));
        const fw = ctx.run?.framework ?? '';
        const meaning = explicit === 'drop' || explicit === 'retain' ? explicit
          : RETAIN_FRAMEWORKS.test(fw) ? 'retain' : DROP_FRAMEWORKS.test(fw) ? 'drop' : undefined;
        const dropFrac = meaning === 'retain' ? 1 - p : p;
        if (meaning && dropFrac > t.maxDrop) {
          sink.fire(undefined, { dropout: p, meaning, dropFraction: r4(dropFrac), framework: fw || null });
        } else if (!meaning && p > t.maxDrop) {
          sink.fire(undefined, { dropout: p, meaning: null, framework: fw || null }, 'info');
        }
      },
    };
  },
});

export default [tooStrong, weightsCollapsing, dropoutSemantics];
