/**
 * Activation functions. Hidden layers do best with ReLU-family activations; sigmoid and tanh
 * saturate and make gradients vanish in deep nets (LSTMs excepted, tanh is normal there).
 * Dead ReLUs are judged per unit (zero for every example of the batch), never per element:
 * about half of a healthy ReLU layer's elements are zero, which is exactly where the
 * per-element detectors of the literature raise their false alarms.
 */
import { PerLayerSustain, SECTIONS, defineRule } from '../rule.js';
import { Sustain, isRecurrent, isSaturating, r4 } from '../util.js';
import type { LayerRow } from '../context.js';

/** Hidden = known from the model and not its output layer. Without a model we cannot tell, so we stay silent. */
const hidden = (row: LayerRow): boolean => row.flags?.hidden === true;

export const sigmoidTanhDeep = defineRule({
  id: 'act.saturating_hidden',
  section: SECTIONS.act,
  severity: 'info',
  condition:
    'The model has at least `minLayers` layers with weights and some hidden (non-output) layers use sigmoid or ' +
    'tanh. Recurrent layers (LSTM/GRU/RNN) are exempt.',
  thresholds: { minLayers: 4 },
  requires: ['model.layers[].activation'],
  advice:
    'Sigmoid and tanh hidden layers squash their gradients, which makes deep networks hard to train. Prefer ReLU ' +
    'or leaky ReLU in hidden layers (tanh remains fine inside LSTMs).',
  clearAfter: 1,
  create(t) {
    return {
      check(ctx, sink) {
        const ls = ctx.layers;
        if (ls.length < t.minLayers) return;
        const bad = ls.slice(0, -1).filter((l) => isSaturating(l.activation) && !isRecurrent(l.kind));
        if (bad.length) sink.fire(undefined, { layers: bad.slice(0, 20).map((l) => `${l.name} (${l.activation})`), depth: ls.length });
      },
    };
  },
});

export const saturated = defineRule({
  id: 'act.saturated',
  section: SECTIONS.act,
  severity: 'warning',
  condition:
    'A hidden, non-recurrent layer reports act.fracSaturated > maxSaturated in at least `need` of its last ' +
    '`window` observations. The output layer is exempt (a confident sigmoid output saturates by design).',
  thresholds: { maxSaturated: 0.5, window: 20, need: 16 },
  requires: ['model (to tell hidden layers from the output)', 'layer act stats with fracSaturated (clients compute it for bounded activations)'],
  advice:
    'Most units of this layer sit in the flat tails of their sigmoid/tanh, where gradients are nearly zero. ' +
    'Lower the weight scale or learning rate, normalise the inputs, or switch to ReLU.',
  clearAfter: 20,
  create(t) {
    const per = new PerLayerSustain(t.window, t.need);
    return {
      onStep(ctx, s, sink) {
        for (const row of ctx.rows) {
          const f = row.stats.act?.fracSaturated;
          if (f === undefined || !Number.isFinite(f) || !hidden(row) || row.flags?.recurrent) continue;
          const hit = f > t.maxSaturated;
          if (per.push(sink, row, hit) && hit) sink.fire(row.name, { fracSaturated: r4(f), activation: row.info?.activation ?? null });
        }
      },
    };
  },
});

export const deadRelu = defineRule({
  id: 'act.dead_units',
  section: SECTIONS.act,
  severity: 'warning',
  condition:
    'A hidden layer reports act.fracDeadUnits (units zero for every example of the batch) above maxDead in at ' +
    'least `need` of its last `window` observations. Skipped when config.batchSize < minBatch, where a unit ' +
    'that is silent for a handful of examples says little.',
  thresholds: { maxDead: 0.4, window: 20, need: 16, minBatch: 8 },
  requires: ['model (to tell hidden layers from the output)', 'layer act stats with fracDeadUnits (per unit, not per element)'],
  advice:
    'A large share of this layer\'s units output zero for every input, so they no longer learn (dying ReLU). ' +
    'Lower the learning rate, use He initialisation, or switch to leaky ReLU / ELU.',
  clearAfter: 20,
  create(t) {
    const per = new PerLayerSustain(t.window, t.need);
    return {
      onStep(ctx, s, sink) {
        const bs = ctx.cfgNum('batchSize');
        if (bs !== undefined && bs < t.minBatch) return;
        for (const row of ctx.rows) {
          const f = row.stats.act?.fracDeadUnits;
          if (f === undefined || !Number.isFinite(f) || !hidden(row)) continue;
          const hit = f > t.maxDead;
          if (per.push(sink, row, hit) && hit) {
            sink.fire(row.name, { fracDeadUnits: r4(f), fracZero: r4(row.stats.act?.fracZero) });
          }
        }
      },
    };
  },
});

interface StdState {
  mild: Sustain;
  severe: Sustain;
}

export const actStd = defineRule({
  id: 'act.std_out_of_range',
  section: SECTIONS.act,
  severity: 'info',
  condition:
    'After `warmup` steps, a hidden layer\'s activation std is outside [low, high] in at least `need` of its ' +
    'last `window` observations (info), or outside [severeLow, severeHigh] (warning). The low bound is not ' +
    'applied to sigmoid layers, whose std cannot exceed 0.5.',
  thresholds: { low: 0.5, high: 2, severeLow: 1e-3, severeHigh: 100, warmup: 100, window: 50, need: 45 },
  requires: ['model (to tell hidden layers from the output)', 'layer act stats (std)'],
  advice:
    'Activations of this layer are far from unit scale, so signals shrink or grow as they pass through the ' +
    'network. Revisit the initialisation scale or add normalisation (BatchNorm/LayerNorm).',
  clearAfter: 50,
  create(t) {
    const per: Array<StdState | undefined> = []; // by LayerRow.id
    return {
      onStep(ctx, s, sink) {
        if (s.step < t.warmup) return;
        for (const row of ctx.rows) {
          const sd = row.stats.act?.std;
          if (sd === undefined || !Number.isFinite(sd) || !hidden(row)) continue;
          const name = row.name;
          const sig = row.flags?.sigmoid === true;
          let st = per[row.id];
          if (!st) per[row.id] = st = { mild: new Sustain(t.window, t.need), severe: new Sustain(t.window, t.need) };
          const mildHit = (!sig && sd < t.low) || sd > t.high;
          const severeHit = sd < t.severeLow || sd > t.severeHigh;
          const mild = st.mild.push(mildHit);
          const severe = st.severe.push(severeHit);
          if ((severe && severeHit) || (mild && mildHit)) {
            sink.fire(name, { std: r4(sd), low: t.low, high: t.high }, severe ? 'warning' : 'info');
          } else if (!mild && !severe) sink.clear(name);
        }
      },
    };
  },
});

export default [sigmoidTanhDeep, saturated, deadRelu, actStd];
