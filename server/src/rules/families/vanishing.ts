/**
 * Vanishing gradients and weights that never change. A zero update makes the update ratio
 * -Infinity: that is this family's business (an unchanged layer), never a NaN alarm. Layers
 * marked trainable:false are frozen on purpose and skipped.
 */
import { PerLayerSustain, SECTIONS, defineRule, sustained } from '../rule.js';
import { Sustain, r4 } from '../util.js';
import { isTrainable } from '../context.js';

export const vanishing = defineRule({
  id: 'grad.vanishing',
  section: SECTIONS.vanishing,
  severity: 'warning',
  condition:
    'The first/last grad-norm ratio is below minRatio while the first layer\'s grad norm is below minFirstNorm ' +
    '(AUTOTRAINER), in at least `need` of the last `window` steps.',
  thresholds: { minRatio: 1e-3, minFirstNorm: 1e-4, window: 20, need: 16 },
  requires: ['model (forward order)', 'grad norm of the first and last layers'],
  advice:
    'Gradients fade on their way back to the first layers, so those layers barely learn. Use ReLU-family ' +
    'activations instead of sigmoid/tanh, He/Xavier initialisation, normalisation layers or residual connections.',
  clearAfter: 20,
  create(t) {
    const sus = new Sustain(t.window, t.need);
    return {
      onStep(ctx, s, sink) {
        const r = s.gradNormRatio;
        const first = ctx.layers[0];
        const n = first && s.layers[first.name]?.grad?.norm;
        if (r === undefined || n === undefined || !Number.isFinite(r) || !Number.isFinite(n)) return;
        const hit = r < t.minRatio && n < t.minFirstNorm;
        if (sustained(sus, sink, hit) && hit) {
          sink.fire(undefined, { gradNormRatio: r4(r), firstLayer: first?.name ?? null, firstLayerGradNorm: r4(n) });
        }
      },
    };
  },
});

export const tinyGrad = defineRule({
  id: 'grad.vanishing_layer',
  section: SECTIONS.vanishing,
  severity: 'warning',
  condition:
    'A trainable layer\'s grad.meanAbs is below minMeanAbs (DeepDiagnosis) in at least `need` of its last `window` steps.',
  thresholds: { minMeanAbs: 1e-7, window: 20, need: 16 },
  requires: ['layer grad stats (meanAbs)'],
  advice:
    'This layer receives almost no gradient, so it has effectively stopped learning. Check for saturated or ' +
    'dead activations before it, the initialisation scale, and consider normalisation or skip connections.',
  clearAfter: 20,
  create(t) {
    const per = new PerLayerSustain(t.window, t.need);
    return {
      onStep(ctx, s, sink) {
        for (const row of ctx.rows) {
          const g = row.stats.grad?.meanAbs;
          if (g === undefined || !Number.isFinite(g) || !isTrainable(row)) continue;
          const hit = g < t.minMeanAbs;
          if (per.push(sink, row, hit) && hit) sink.fire(row.name, { gradMeanAbs: r4(g), minMeanAbs: t.minMeanAbs });
        }
      },
    };
  },
});

export const unchanged = defineRule({
  id: 'weights.unchanged',
  section: SECTIONS.vanishing,
  severity: 'warning',
  condition:
    'A trainable layer\'s update is exactly zero (update ratio -Infinity) in `need` of its last `window` ' +
    'observations. Layers with trainable:false are skipped; gradient accumulation (zero updates on most ' +
    'steps, not all) does not fill the window.',
  thresholds: { window: 20, need: 20 },
  requires: ['layer update and param stats (the derived update ratio)'],
  advice:
    'This layer\'s weights do not change at all. If it should be frozen, mark it trainable:false; otherwise ' +
    'check that its parameters are passed to the optimizer, require gradients, and receive a non-zero gradient.',
  clearAfter: 5,
  create(t) {
    const per = new PerLayerSustain(t.window, t.need);
    return {
      onStep(ctx, s, sink) {
        for (const row of ctx.rows) {
          const r = row.ratio;
          if (r === undefined || Number.isNaN(r) || !isTrainable(row)) continue;
          // Refreshes on every sustained step, a miss included (possible only when need < window).
          if (per.push(sink, row, r === Number.NEGATIVE_INFINITY)) {
            sink.fire(row.name, { steps: per.count(row), gradMeanAbs: r4(row.stats.grad?.meanAbs) });
          }
        }
      },
    };
  },
});

export default [vanishing, tinyGrad, unchanged];
