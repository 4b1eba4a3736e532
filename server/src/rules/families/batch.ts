/**
 * Minibatch size. 16..128 is the common range (32 a good start); a batch of one trains but
 * wastes parallelism and gives very noisy gradients. The noise shows up in the loss: the
 * oscillation rule looks for the loss swinging up and down by a large fraction of its scale,
 * not merely zig-zagging (every minibatch loss zig-zags; that alone is healthy).
 */
import { SECTIONS, defineRule } from '../rule.js';
import { Ring, r4 } from '../util.js';

const ACCUM_KEYS = ['gradAccumSteps', 'gradientAccumulationSteps', 'accumulateGradBatches'];

export const tooSmall = defineRule({
  id: 'batch.too_small',
  section: SECTIONS.batch,
  severity: 'warning',
  condition:
    'config.batchSize (times gradient-accumulation steps, if configured) is 1: warning; below `min`: info.',
  thresholds: { min: 16 },
  requires: ['config.batchSize (optionally config.gradAccumSteps)'],
  advice:
    'Very small minibatches give noisy gradient estimates and waste the hardware\'s parallelism. Try 32 (16..128 ' +
    'is common), or accumulate gradients over several batches if memory is the limit.',
  clearAfter: 1,
  create(t) {
    return {
      check(ctx, sink) {
        const bs = ctx.cfgNum('batchSize');
        if (bs === undefined || bs <= 0) return;
        const accum = ACCUM_KEYS.map((k) => ctx.cfgNum(k)).find((v) => v !== undefined) ?? 1;
        const eff = bs * Math.max(1, accum);
        if (eff <= 1) sink.fire(undefined, { batchSize: bs, effective: eff }, 'warning');
        else if (eff < t.min) sink.fire(undefined, { batchSize: bs, effective: eff, min: t.min }, 'info');
      },
    };
  },
});

export const lossOscillating = defineRule({
  id: 'batch.loss_oscillating',
  section: SECTIONS.batch,
  severity: 'warning',
  condition:
    'Over the last `window` losses, the mean absolute step-to-step change exceeds maxSwing × the loss scale ' +
    '(the larger of the window mean and the starting loss) and the direction flips in more than minFlips of ' +
    'the steps, for `sustain` steps in a row. With config.batchSize below refBatch, maxSwing is scaled by ' +
    'sqrt(refBatch / batchSize): the swing a small batch alone explains is not a fault. Warning while the loss has lost less than minProgress of its ' +
    'starting value; info once the run is clearly learning (a noisy small-batch loss that falls is healthy).',
  thresholds: { window: 50, maxSwing: 0.3, minFlips: 0.5, sustain: 25, minProgress: 0.25, refBatch: 16 },
  requires: ['scalars.loss'],
  advice:
    'The loss jumps up and down by a large part of its value from step to step: the minibatch is too small or ' +
    'the learning rate too high. Increase the batch size or lower the rate.',
  clearAfter: 50,
  create(t) {
    const w = Math.max(4, Math.round(t.window));
    const ring = new Ring(w);
    let streak = 0;
    return {
      onStep(ctx, s, sink) {
        const loss = s.scalars.loss;
        if (loss === undefined || !Number.isFinite(loss)) return;
        ring.push(loss);
        if (!ring.full) return;
        let sum = 0;
        let swing = 0;
        let flips = 0;
        let prevD = 0;
        let prev = ring.at(0);
        for (let i = 1; i < w; i++) {
          const v = ring.at(i);
          const d = v - prev;
          swing += Math.abs(d);
          if (d * prevD < 0) flips++;
          if (d !== 0) prevD = d;
          sum += v;
          prev = v;
        }
        const mean = (sum + ring.at(0)) / w;
        const scale = Math.max(Math.abs(mean), Math.abs(ctx.loss.initial ?? 0), 1e-12);
        const rel = swing / (w - 1) / scale;
        const flipFrac = flips / (w - 2);
        const bs = ctx.cfgNum('batchSize');
        const maxSwing = bs !== undefined && bs > 0 && bs < t.refBatch ? t.maxSwing * Math.sqrt(t.refBatch / bs) : t.maxSwing;
        const hit = rel > maxSwing && flipFrac > t.minFlips;
        streak = hit ? streak + 1 : 0;
        if (streak >= t.sustain) {
          const progress = ctx.loss.progress();
          sink.fire(undefined, { relSwing: r4(rel), flipFraction: r4(flipFrac), lossMean: r4(mean), window: w, progress: r4(progress) },
            progress !== undefined && progress >= t.minProgress ? 'info' : 'warning');
        } else if (!hit) sink.clear();
      },
    };
  },
});

export default [tooSmall, lossOscillating];
