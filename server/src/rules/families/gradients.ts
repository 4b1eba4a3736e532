/**
 * Gradient normalization: exploding gradients. The total gradient norm is compared with its
 * own running median (a spike) and with its level at the start of the run (steady growth);
 * medians, not means, so one outlier neither triggers nor masks anything. Non-finite
 * gradients are reported by nan.detected, whose advice names exploding gradients when the
 * norm jumped just before.
 */
import { SECTIONS, defineRule, sustained } from '../rule.js';
import type { LayerRow } from '../context.js';
import type { StepView } from '../types.js';
import { RollingMedian, Sustain, r4 } from '../util.js';

/**
 * Per layer, its first and latest observed gradient norm: when the total norm explodes, the layer
 * whose own norm grew the most is the one to name (in a recurrent net, its recurrent matrix).
 * The hot path only keeps a reference to the latest step that carried layer stats; the
 * comparison is made when an alert fires.
 */
class LayerGrowth {
  private readonly first = new Map<string, number>();
  private latest: StepView | undefined;
  private firstSteps = 0;

  observe(s: StepView, rows: readonly LayerRow[]): void {
    if (rows.length === 0) return;
    this.latest = s;
    // A layer's first norm: from the first few steps with layer stats (layers may be sampled).
    if (this.firstSteps >= 3) return;
    this.firstSteps++;
    for (const { name, stats } of rows) {
      const n = stats.grad?.norm;
      if (n !== undefined && Number.isFinite(n) && !this.first.has(name)) this.first.set(name, n);
    }
  }

  top(): { layer: string; growth: number } | null {
    let best: { layer: string; growth: number } | null = null;
    const s = this.latest;
    if (!s) return null;
    for (const name in s.layers) {
      const n = s.layers[name]?.grad?.norm;
      const f = this.first.get(name);
      if (n === undefined || !Number.isFinite(n) || f === undefined || !(f > 0)) continue;
      if (!best || n / f > best.growth) best = { layer: name, growth: n / f };
    }
    return best;
  }
}

export const exploding = defineRule({
  id: 'grad.exploding',
  section: SECTIONS.gradNorm,
  severity: 'warning',
  condition:
    'The total gradient norm (the reserved scalar grad_norm when sent, the norm over all parameters; else sqrt ' +
    'of the sum of the layers\' squared grad norms) exceeds spikeFactor × the median of the previous ' +
    '`medianWindow` steps and the largest norm of the first `minHistory` steps (a blip on a converged, tiny ' +
    'gradient does not count), or growthFactor × the median of the first `medianWindow` steps, in at least ' +
    '`need` of the last `window` steps. Info instead of warning when the run clips gradients (config.gradClip, ' +
    'maxGradNorm, ...): the spikes are then absorbed.',
  thresholds: { spikeFactor: 10, growthFactor: 30, medianWindow: 50, minHistory: 20, window: 10, need: 3 },
  requires: ['scalars.grad_norm, or layer grad stats with norm'],
  advice:
    'Gradients are exploding. Clip them by global norm (e.g. 1.0) or normalise them, lower the learning rate, ' +
    'and check for unnormalised inputs or an initialisation that is too large.',
  clearAfter: 50,
  create(t) {
    const med = new RollingMedian(Math.max(3, Math.round(t.medianWindow)));
    const sus = new Sustain(t.window, t.need);
    let baseline: number | undefined;
    /** Largest norm of the first minHistory steps: healthy gradients are usually largest right at the start. */
    let initialMax = 0;
    let seen = 0;
    const layers = new LayerGrowth();
    return {
      onStep(ctx, s, sink) {
        layers.observe(s, ctx.rows);
        const n = ctx.gradNorm;
        if (n === undefined) return;
        const m = med.median();
        // A spike must also top the largest norm of the run's first steps: near convergence norms get
        // tiny, and a hard batch is a big jump relative to them without anything exploding.
        const spike = med.count >= t.minHistory && n > t.spikeFactor * m && n > initialMax;
        if (seen < t.minHistory) initialMax = Math.max(initialMax, n);
        const growth = baseline !== undefined && n > t.growthFactor * baseline;
        med.push(n);
        if (++seen === med.size) baseline = med.median();
        const hit = spike || growth;
        if (sus.push(hit)) {
          if (hit) {
            const top = layers.top();
            sink.fire(undefined, {
              gradNorm: r4(n), runningMedian: r4(m), initialMedian: r4(baseline), spike, growth,
              source: ctx.gradNormReported ? 'grad_norm' : 'layers', topLayer: top?.layer ?? null,
              topLayerGrowth: r4(top?.growth), clip: ctx.gradClip() ?? null,
            }, ctx.gradClip() !== undefined ? 'info' : 'warning');
          }
        } else if (!hit) sink.clear();
      },
    };
  },
});

export const normRatioHigh = defineRule({
  id: 'grad.norm_ratio_high',
  section: SECTIONS.gradNorm,
  severity: 'warning',
  condition:
    'The derived first/last layer grad-norm ratio is above maxRatio (AUTOTRAINER\'s explosion test) in at least ' +
    '`need` of the last `window` steps.',
  thresholds: { maxRatio: 70, window: 20, need: 16 },
  requires: ['model (forward order)', 'grad norm of the first and last layers'],
  advice:
    'Gradients grow as they flow back towards the input: the first layer\'s gradient is much larger than the ' +
    'last one\'s. Clip or normalise gradients, and check the input scaling and the initialisation of early layers.',
  clearAfter: 20,
  create(t) {
    const sus = new Sustain(t.window, t.need);
    return {
      onStep(_ctx, s, sink) {
        const r = s.gradNormRatio;
        if (r === undefined || !Number.isFinite(r)) return;
        const hit = r > t.maxRatio;
        if (sustained(sus, sink, hit) && hit) sink.fire(undefined, { gradNormRatio: r4(r), maxRatio: t.maxRatio });
      },
    };
  },
});

export default [exploding, normRatioHigh];
