/**
 * Weight initialization: weights neither too large nor too small (Xavier, or He for ReLU
 * layers), and never all equal (identical units get identical gradients and stay identical).
 */
import type { LayerInfo } from '@gradwatch/shared';
import { SECTIONS, defineRule } from '../rule.js';
import { isEmbedding, isNormLayer, isRectifier, isReluLike, r4 } from '../util.js';

/** Layers whose weights are not meant to follow a fan-in rule: norms start at 1, embeddings at std 1. */
const exempt = (l: LayerInfo): boolean =>
  isNormLayer(l.kind) || isEmbedding(l.kind) || l.trainable === false || /pretrain|checkpoint|load/i.test(l.init ?? '');

export const initScale = defineRule({
  id: 'init.scale',
  section: SECTIONS.init,
  severity: 'warning',
  condition:
    'At a layer\'s first param stats (step ≤ maxStep), the std of its weights BEFORE the first update is more ' +
    'than `factor` times outside the band spanned by the standard schemes for its fan-in/fan-out (Xavier ' +
    'sqrt(2/(in+out)), He sqrt(2/in), LeCun sqrt(1/in), PyTorch default sqrt(1/(3 in))). The initial std is ' +
    'bounded from the reported weights and the updates made so far (|std(w) - n·std(update)| ≤ std(w0) ≤ ' +
    'std(w) + n·std(update), n = updates so far); the layer is judged only when that whole interval is outside ' +
    'the band, so weights an optimizer already moved far are never blamed on the init. Known-good schemes are ' +
    'accepted: in a model with normalisation layers, a std between gptLow and gptHigh (the transformer ' +
    'N(0, 0.02) init). Norm, embedding, frozen and pretrained layers are skipped.',
  thresholds: { factor: 4, maxStep: 50, gptLow: 0.005, gptHigh: 0.05 },
  requires: ['model.layers[].fanIn (fanOut for Xavier)', 'layer param (and update) stats from the first steps'],
  advice:
    'Initialise this layer on the scale of its fan-in: Xavier/Glorot for tanh, sigmoid or linear layers, He ' +
    '(Kaiming) for ReLU-family layers. Weights far too large saturate or explode; far too small, the signal fades.',
  clearAfter: 1,
  create(t) {
    const checked = new Set<string>();
    let firstStep: number | undefined;
    return {
      onStep(ctx, s, sink) {
        firstStep ??= s.step;
        // Only the first observation of each layer matters: past maxStep nothing new can be checked.
        if (s.step > t.maxStep && checked.size > 0) return;
        if (ctx.cfgStr('init') === 'pretrained' || ctx.config.pretrained === true) return;
        for (const name in s.layers) {
          if (checked.has(name)) continue;
          const l = s.layers[name];
          const p = l?.param;
          const info = ctx.layerInfo.get(name);
          if (!p || !info) continue;
          checked.add(name);
          const fanIn = info.fanIn;
          if (s.step > t.maxStep || exempt(info) || !fanIn || !(p.std > 0) || !Number.isFinite(p.std)) continue;
          // The client reports weights after the optimizer step: undo what the updates can have moved.
          const du = l.update?.std;
          const drift = du !== undefined && Number.isFinite(du) ? du * (s.step - firstStep + 1) : 0;
          const initLo = Math.max(0, p.std - drift);
          const initHi = p.std + drift;
          const fanOut = info.fanOut ?? fanIn;
          const xavier = Math.sqrt(2 / (fanIn + fanOut));
          const he = Math.sqrt(2 / fanIn);
          const schemes = [xavier, he, Math.sqrt(1 / fanIn), Math.sqrt(1 / (3 * fanIn))];
          const lo = Math.min(...schemes) / t.factor;
          const hi = Math.max(...schemes) * t.factor;
          const gpt = ctx.hasNorm && initLo >= t.gptLow && initHi <= t.gptHigh;
          if ((initHi < lo && !gpt) || initLo > hi) {
            const relu = isRectifier(info.activation);
            const expected = relu ? he : xavier;
            sink.fire(name, {
              step: s.step,
              std: r4(p.std),
              initialStd: drift > 0 ? [r4(initLo), r4(initHi)] : r4(p.std),
              expected: r4(expected),
              scheme: relu ? 'he' : 'xavier',
              ratio: r4(p.std / expected),
              fanIn,
              fanOut: info.fanOut ?? null,
            });
          }
        }
      },
    };
  },
});

export const initConstant = defineRule({
  id: 'init.constant',
  section: SECTIONS.init,
  severity: 'warning',
  condition:
    'A layer\'s weights are all equal (std ≤ relTol × |mean|, or all zero) at its first param stats: info at ' +
    'once; warning if they are still equal after `steps` more observations (symmetry never broke). ' +
    'Norm layers (weights at 1), frozen layers and embeddings are skipped.',
  thresholds: { relTol: 1e-6, steps: 20, maxStep: 50 },
  requires: ['layer param stats from the first steps'],
  advice:
    'All weights of this layer start equal, so its units compute the same thing and receive the same gradient. ' +
    'Use a random initialisation (Xavier or He) so the units can learn different features.',
  clearAfter: 1,
  create(t) {
    const seen = new Set<string>();
    /** Layers found constant at their first observation, with the observations since. */
    const watch = new Map<string, number>();
    const isConstant = (std: number, meanAbs: number): boolean => std <= t.relTol * meanAbs || (std === 0 && meanAbs === 0);
    return {
      onStep(ctx, s, sink) {
        // After maxStep only layers already under watch matter (usually none): skip the scan.
        const late = s.step > t.maxStep;
        if (late && watch.size === 0) return;
        for (const name in s.layers) {
          if (late && !watch.has(name)) continue;
          const p = s.layers[name]?.param;
          if (!p || !Number.isFinite(p.std)) continue;
          if (!seen.has(name)) {
            seen.add(name);
            const info = ctx.layerInfo.get(name);
            if (s.step > t.maxStep || (info && exempt(info)) || !isConstant(p.std, p.meanAbs)) continue;
            watch.set(name, 0);
          }
          const n = watch.get(name);
          if (n === undefined) continue;
          if (!isConstant(p.std, p.meanAbs)) {
            watch.delete(name);
            sink.clear(name);
            continue;
          }
          watch.set(name, n + 1);
          const stuck = n >= t.steps;
          sink.fire(
            name,
            { mean: r4(p.mean), std: r4(p.std), allZero: p.meanAbs === 0, observations: n + 1 },
            stuck ? 'warning' : 'info',
          );
        }
      },
    };
  },
});

export const reluXavier = defineRule({
  id: 'init.relu_xavier',
  section: SECTIONS.init,
  severity: 'info',
  condition: 'A layer with a ReLU or leaky-ReLU activation declares a Xavier/Glorot initialisation.',
  thresholds: {},
  requires: ['model.layers[].activation and .init'],
  advice:
    'Xavier keeps the variance of symmetric activations; ReLU discards half the signal, so He (Kaiming, "ReLU") ' +
    'initialisation is the better match for this layer.',
  clearAfter: 1,
  create() {
    return {
      check(ctx, sink) {
        for (const l of ctx.layers) {
          if (isReluLike(l.activation) && /xavier|glorot/i.test(l.init ?? '')) {
            sink.fire(l.name, { activation: l.activation, init: l.init });
          }
        }
      },
    };
  },
});

export default [initScale, initConstant, reluXavier];
