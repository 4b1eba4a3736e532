/**
 * NaN / Infinity anywhere. Critical, opened on the very step the first non-finite value
 * arrives. The evidence names the first place it showed up (the first layer in forward order,
 * and within it the quantity earliest in the computation) and summarises the steps just
 * before it, because the cause is usually visible there: a rate that moved weights by percents
 * per step, a gradient norm that jumped, or gradients so small they underflowed.
 */
import type { NumStats, StepView, EvalView } from '../types.js';
import { GRAD_NORM_SCALAR, type LayerRow, type RunContext } from '../context.js';
import { SECTIONS, defineRule, type Sink } from '../rule.js';
import { Ring, RollingMedian, r4 } from '../util.js';

/** Forward-pass order within a layer: activations exist before the loss, grads after it. */
const KIND_ORDER = ['act', 'grad', 'update', 'param', 'bias'] as const;
type Kind = (typeof KIND_ORDER)[number];

function statsNonFinite(s: NumStats | undefined): boolean {
  if (!s) return false;
  if (s.nonFinite !== undefined && (s.nonFinite > 0 || Number.isNaN(s.nonFinite))) return true;
  // A summary that overflowed (std of values near 1e38) is as alarming as a NaN element.
  return !(Number.isFinite(s.mean) && Number.isFinite(s.std) && Number.isFinite(s.meanAbs) &&
    Number.isFinite(s.min ?? 0) && Number.isFinite(s.max ?? 0) && Number.isFinite(s.norm ?? 0));
}

/**
 * Scalars checked: the loss and anything named like one (`val_loss`, `loss_cls`), not `sys/`,
 * and the reserved total gradient norm (clip_grad_norm_ returns inf/NaN for a broken gradient).
 */
function lossLike(name: string): boolean {
  return name === GRAD_NORM_SCALAR || (!name.startsWith('sys/') && /loss$|^loss/i.test(name));
}

interface Hit {
  quantity: 'loss' | 'inputs' | Kind | 'scalar' | 'eval';
  layer?: string;
  name?: string;
  count?: number;
}

function layerHit(name: string, l: Partial<Record<Kind, NumStats>>): Hit | undefined {
  for (const k of KIND_ORDER) {
    const s = l[k];
    if (statsNonFinite(s)) return { quantity: k, layer: name, count: s?.nonFinite ?? 0 };
  }
  return undefined;
}

/** Every non-finite place of a step, earliest first: inputs, then layers in forward order, then the loss. */
function findHits(ctx: RunContext, s: StepView): Hit[] {
  const hits: Hit[] = [];
  const inp = s.inputs;
  if (inp && ((inp.nonFinite ?? 0) > 0 || ![inp.mean, inp.std, inp.min, inp.max].every(Number.isFinite))) {
    hits.push({ quantity: 'inputs', count: inp.nonFinite ?? 0 });
  }
  const seen = new Set<string>();
  for (const info of ctx.layers) {
    const l = s.layers[info.name];
    seen.add(info.name);
    const h = l && layerHit(info.name, l);
    if (h) hits.push(h);
  }
  for (const name in s.layers) {
    const l = s.layers[name];
    const h = !seen.has(name) && l ? layerHit(name, l) : undefined;
    if (h) hits.push(h);
  }
  for (const name in s.scalars) {
    const v = s.scalars[name];
    if (v !== undefined && !Number.isFinite(v) && lossLike(name)) {
      hits.push(name === 'loss' ? { quantity: 'loss', name } : name === GRAD_NORM_SCALAR ? { quantity: 'grad', name } : { quantity: 'scalar', name });
    }
  }
  return hits;
}

/**
 * statsNonFinite's cheap superset: a sum of finite fields is finite unless it overflows, and a
 * step flagged by an overflow alone finds no hit in findHits.
 */
function statsSuspect(s: NumStats | undefined): boolean {
  return s !== undefined && ((s.nonFinite ?? 0) !== 0 || !Number.isFinite(s.mean + s.std + s.meanAbs + (s.min ?? 0) + (s.max ?? 0) + (s.norm ?? 0)));
}

/** Cheap first pass (a superset of findHits): most steps are finite, and those must cost next to nothing. */
function anyNonFinite(s: StepView, rows: readonly LayerRow[]): boolean {
  for (const name in s.scalars) {
    const v = s.scalars[name];
    if (v !== undefined && !Number.isFinite(v) && lossLike(name)) return true;
  }
  const inp = s.inputs;
  if (inp && ((inp.nonFinite ?? 0) > 0 || !Number.isFinite(inp.mean + inp.std + inp.min + inp.max))) return true;
  for (const { stats: l } of rows) {
    if (statsSuspect(l.act) || statsSuspect(l.grad) || statsSuspect(l.update) || statsSuspect(l.param) || statsSuspect(l.bias)) return true;
  }
  return false;
}

const ADVICE: Record<string, string> = {
  input_data:
    'The input batch itself holds NaN or Infinity: find and clean or drop those records (missing values, ' +
    'divisions by zero in preprocessing) before they reach the network.',
  learning_rate_too_high:
    'The steps before it moved weights by a large fraction of their size: the learning rate is very likely ' +
    'too high. Lower it by 10x, add warm-up, and consider gradient clipping.',
  exploding_gradients:
    'The gradient norm jumped just before the NaN: gradients exploded. Clip gradients (by norm) or normalise ' +
    'them, and check the learning rate and the depth of unnormalised layers.',
  underflow:
    'Gradients or updates were vanishingly small before it: values underflowed. Rescale the network (better ' +
    'initialisation, normalisation layers, fewer saturating activations); higher precision can help, but fix the scaling first.',
  unknown:
    'No clear precursor in the preceding steps: look for log(0), division by zero or sqrt of a negative in the ' +
    'loss or a custom layer, and try a lower learning rate with gradient clipping.',
};

export const nanDetected = defineRule({
  id: 'nan.detected',
  section: SECTIONS.nan,
  severity: 'critical',
  condition:
    'Any NaN or ±Infinity in the loss (or a scalar named like a loss), the input batch, or any layer\'s ' +
    'param/grad/update/act/bias stats (nonFinite > 0, or a summary field that is itself non-finite), or in an eval metric.',
  thresholds: { window: 20, lrRatio: -1.5, explodeFactor: 10, underflowNorm: 1e-6 },
  requires: ['scalars.loss, layer stats or inputs stats (any of them is checked when present)'],
  advice: ADVICE.unknown ?? '',
  adviceFor: (ev) => ADVICE[String(ev.likelyCause)] ?? ADVICE.unknown ?? '',
  clearAfter: 100,
  create(t) {
    const win = Math.max(2, Math.round(t.window));
    const losses = new Ring(win);
    const ratios = new Ring(win);
    const norms = new RollingMedian(win);
    const lastNorms = new Ring(win);
    let evidence: Record<string, unknown> | undefined;
    let clean = 0;
    /** The most recent finite update ratio observed (layer stats come every few steps). */
    let lastRatio = Number.NEGATIVE_INFINITY;

    const preceding = (): { ev: Record<string, unknown>; causes: string[] } => {
      const causes: string[] = [];
      const lossFirst = losses.length ? losses.at(0) : Number.NaN;
      const lossLast = losses.last();
      const maxRatio = ratios.length ? ratios.max() : Number.NaN;
      const normMed = norms.median();
      const normLast = lastNorms.last();
      // The precursors are judged on the steps right before the NaN, not on the window's oldest
      // steps (where Adam's first updates are always large): the latest observed update ratio,
      // and the recent half of the losses against the half before it.
      const k = Math.min(losses.length, 10);
      let older = 0;
      let recent = 0;
      for (let i = 0; i < k; i++) {
        const v = losses.at(losses.length - k + i);
        if (i < k >> 1) older += v;
        else recent += v;
      }
      const h = k >> 1;
      const lossRising = h >= 2 && older > 0 && recent / (k - h) > 2 * (older / h);
      if (lastRatio > t.lrRatio || lossRising) causes.push('learning_rate_too_high');
      if (normLast > t.explodeFactor * normMed) causes.push('exploding_gradients');
      if (normMed < t.underflowNorm) causes.push('underflow');
      return {
        ev: {
          steps: losses.length,
          lossFirst: r4(lossFirst),
          lossLast: r4(lossLast),
          lossRising,
          maxUpdateRatio: r4(maxRatio),
          lastUpdateRatio: r4(lastRatio),
          gradNormMedian: r4(normMed),
          gradNormLast: r4(normLast),
        },
        causes,
      };
    };

    const open = (ctx: RunContext, hits: Hit[], sink: Sink): void => {
      if (evidence) {
        evidence = { ...evidence, lastNonFiniteStep: ctx.step, places: hits.length };
        sink.fire(undefined, evidence);
        return;
      }
      const first = hits[0] as Hit;
      const { ev, causes } = preceding();
      if (first.quantity === 'inputs') causes.unshift('input_data');
      // Both often hold together. Updates larger than the weights themselves (ratio > 0) point at
      // the rate; a norm jump with moderate updates is the more specific explosion story.
      const ratio = Number(ev.lastUpdateRatio);
      if (causes[0] === 'learning_rate_too_high' && causes[1] === 'exploding_gradients' && !(ratio > 0)) {
        causes.splice(0, 2, 'exploding_gradients', 'learning_rate_too_high');
      }
      const cause = causes[0] ?? 'unknown';
      evidence = {
        firstStep: ctx.step,
        quantity: first.quantity,
        layer: first.layer ?? null,
        name: first.name ?? null,
        nonFiniteCount: first.count ?? null,
        places: hits.length,
        where: hits.slice(0, 10).map((h) => (h.layer ? `${h.layer}:${h.quantity}` : (h.name ?? h.quantity))),
        preceding: ev,
        likelyCause: cause,
        otherCauses: causes.slice(1),
      };
      sink.fire(undefined, evidence, 'critical');
    };

    return {
      onStep(ctx, s, sink) {
        const hits = anyNonFinite(s, ctx.rows) ? findHits(ctx, s) : [];
        if (hits.length > 0) {
          clean = 0;
          open(ctx, hits, sink);
        } else {
          // Keep the first occurrence's evidence while the alert stays open (clearAfter clean steps).
          if (++clean >= 100) evidence = undefined;
          sink.clear();
        }
        losses.push(s.scalars.loss ?? Number.NaN);
        ratios.push(ctx.maxUpdateRatio ?? Number.NEGATIVE_INFINITY);
        if (ctx.maxUpdateRatio !== undefined) lastRatio = ctx.maxUpdateRatio;
        if (ctx.gradNorm !== undefined) {
          norms.push(ctx.gradNorm);
          lastNorms.push(ctx.gradNorm);
        }
      },
      onEval(ctx, ev: EvalView, sink) {
        const bad = Object.keys(ev.metrics).filter((m) => !Number.isFinite(ev.metrics[m] ?? 0));
        if (bad.length === 0) return;
        open(ctx, bad.map((m) => ({ quantity: 'eval', name: `eval/${ev.split}/${m}` })), sink);
      },
    };
  },
});

export default [nanDetected];
