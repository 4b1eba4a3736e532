/**
 * Learning rate, read from the update:parameter ratio of each layer (the guide's "about
 * 1:1000", log10 ≈ -3; the DL4J UI treats -2..-4 as the healthy band) and from the configured
 * value. Both ratio rules count how often the band was left over a window, so a single noisy
 * step neither opens nor keeps an alert.
 */
import { PerLayerSustain, SECTIONS, defineRule, sustained } from '../rule.js';
import { Sustain, r4 } from '../util.js';
import { isTrainable } from '../context.js';

export const updateRatioHigh = defineRule({
  id: 'lr.update_ratio_high',
  section: SECTIONS.lr,
  severity: 'warning',
  condition:
    'A trainable layer\'s log10(update.meanAbs / param.meanAbs) is above `high` in at least `need` of its last ' +
    '`window` observations, or above `severe` (updates of 10% of the weights per step) in `fastNeed` of its last ' +
    '`fastWindow` observations: a rate far too high is reported within a few observations, from step 0 on.',
  thresholds: { high: -2, window: 20, need: 16, severe: -1, fastWindow: 4, fastNeed: 3 },
  requires: ['layer param and update stats (meanAbs), model with trainable flags optional'],
  advice:
    'Each step changes this layer\'s weights by more than about 1% of their size: the learning rate is too high ' +
    'for it. Lower it (try 3-10x) until the ratio sits near -3, or add warm-up.',
  clearAfter: 20,
  create(t) {
    const per: Array<{ slow: Sustain; fast: Sustain } | undefined> = []; // by LayerRow.id
    return {
      onStep(ctx, _s, sink) {
        for (const row of ctx.rows) {
          const r = row.ratio;
          if (r === undefined || Number.isNaN(r) || !isTrainable(row)) continue;
          const name = row.name;
          let st = per[row.id];
          if (!st) per[row.id] = st = { slow: new Sustain(t.window, t.need), fast: new Sustain(t.fastWindow, t.fastNeed) };
          const hit = r > t.high;
          // The fast window only ever fires: clearing is the slow window's business.
          const severe = st.fast.push(r > t.severe);
          if ((sustained(st.slow, sink, hit, name) || severe) && hit) {
            sink.fire(name, { ratio: r4(r), aboveInWindow: st.slow.count, window: t.window, lr: r4(ctx.lr.value) });
          }
        }
      },
    };
  },
});

export const updateRatioLow = defineRule({
  id: 'lr.update_ratio_low',
  section: SECTIONS.lr,
  severity: 'warning',
  condition:
    'A trainable layer\'s update ratio is below `low` in at least `need` of its last `window` observations. ' +
    'Steps where the lr schedule is warming up (lr rising) or far below its peak (< scheduleFrac × max lr) do ' +
    'not count, nor do zero updates (weights.unchanged), embeddings (sparse updates by design), or steps after ' +
    'the loss has already lost maxProgress of its starting value (a converged run needs no big updates). With an ' +
    'adaptive optimizer (Adam, RMSprop...), a layer whose lr / param.meanAbs is itself above 10^low is skipped: ' +
    'its steps are small because the gradient is mostly noise, not because the rate is low.',
  thresholds: { low: -4, window: 30, need: 27, scheduleFrac: 0.5, maxProgress: 0.9 },
  requires: ['layer param and update stats (meanAbs); scalars.lr to recognise schedules'],
  advice:
    'Updates barely move this layer (less than 1/10,000 of its weights per step): the learning rate is too low ' +
    'for it, so training will be slow. Raise it, or use an adaptive optimizer.',
  clearAfter: 20,
  create(t) {
    const per = new PerLayerSustain(t.window, t.need);
    return {
      onStep(ctx, s, sink) {
        const scheduled = ctx.lr.scheduledLow(t.scheduleFrac) || (ctx.loss.progress() ?? 0) > t.maxProgress;
        const lr = ctx.lr.value ?? ctx.optimizerNum('lr');
        const adaptive = ADAPTIVE.test(ctx.optimizerType() ?? '');
        for (const row of ctx.rows) {
          const r = row.ratio;
          if (r === undefined || Number.isNaN(r) || !isTrainable(row) || row.flags?.embedding) continue;
          const w = row.stats.param?.meanAbs;
          const rateAllows = adaptive && lr !== undefined && w !== undefined && w > 0 && Math.log10(lr / w) > t.low;
          const hit = !scheduled && !rateAllows && Number.isFinite(r) && r < t.low;
          if (per.push(sink, row, hit) && hit) {
            sink.fire(row.name, { ratio: r4(r), belowInWindow: per.count(row), window: t.window, lr: r4(ctx.lr.value) });
          }
        }
      },
    };
  },
});

/** Optimizers whose step is about lr per weight whatever the gradient's scale. */
const ADAPTIVE = /adam|rmsprop|adagrad|adadelta|adamax|nadam|radam|lion|lamb|adafactor/i;

const OPT_LR = ['model.optimizer.lr', 'config.lr', 'config.optimizer.lr'];

export const lrOutOfRange = defineRule({
  id: 'lr.config_out_of_range',
  section: SECTIONS.lr,
  severity: 'info',
  condition:
    'The configured learning rate is outside the guide\'s typical range [min, max]. Info only: large-batch SGD ' +
    'legitimately scales the rate above 0.1; the measured rules say whether it actually hurts.',
  thresholds: { min: 1e-6, max: 0.1 },
  requires: [`the learning rate in one of ${OPT_LR.join(', ')}`],
  advice:
    'Typical learning rates lie between 1e-6 and 0.1. If unsure, try 1e-1, 1e-3 and 1e-6 side by side to find ' +
    'the right order of magnitude, then refine.',
  clearAfter: 1,
  create(t) {
    return {
      check(ctx, sink) {
        const lr = ctx.optimizerNum('lr');
        if (lr === undefined) return;
        if (lr < t.min || lr > t.max) sink.fire(undefined, { lr, min: t.min, max: t.max });
      },
    };
  },
});

export default [updateRatioHigh, updateRatioLow, lrOutOfRange];
