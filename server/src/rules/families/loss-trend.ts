/**
 * Learning rate, read from the loss curve: a loss that climbs away from its best level is the
 * classic sign of a rate that is too high; one that stays flat for hundreds of steps, of one
 * too low (or of a model that has converged, which is why that case is only info).
 * Both compare EMAs, never raw batch losses, so a noisy but healthy loss stays quiet.
 */
import { SECTIONS, defineRule } from '../rule.js';
import { Sustain, WindowMeans, r4 } from '../util.js';

export const lossDiverging = defineRule({
  id: 'lr.loss_diverging',
  section: SECTIONS.lr,
  severity: 'warning',
  condition:
    'For `sustain` steps in a row, the loss EMA (alpha 0.1) is above riseFactor × its lowest value, and the ' +
    'rise exceeds minRiseFrac of the drop achieved so far (so noise on a near-zero loss does not count). ' +
    'From step 0 on: a raw loss above blowupFactor × the first loss in `blowupNeed` of the last `blowupWindow` ' +
    'steps is a blow-up, reported at once. Critical once the loss passes criticalFactor × the starting loss. ' +
    'Only for non-negative losses.',
  thresholds: { riseFactor: 2, minRiseFrac: 0.1, sustain: 10, criticalFactor: 10, blowupFactor: 5, blowupWindow: 4, blowupNeed: 3 },
  requires: ['scalars.loss'],
  advice:
    'The loss is climbing away from its best value: the learning rate is most likely too high (or the schedule ' +
    'raised it). Lower it, add warm-up or gradient clipping, and restart from the last good checkpoint.',
  clearAfter: 20,
  create(t) {
    let streak = 0;
    let firstLoss: number | undefined;
    const blowups = new Sustain(t.blowupWindow, t.blowupNeed);
    return {
      onStep(ctx, s, sink) {
        const L = ctx.loss;
        const loss = s.scalars.loss;
        if (loss === undefined || !Number.isFinite(loss) || !L.allNonNegative) return;
        firstLoss ??= loss;
        const blown = blowups.push(firstLoss > 0 && loss > t.blowupFactor * firstLoss);
        if (L.count < 10 && !blown) return;
        const fast = L.fast.value ?? 0;
        const init = L.initial ?? fast;
        const min = L.minFast;
        const diverging = fast > t.riseFactor * min && fast - min > t.minRiseFrac * Math.abs(init - min) && fast > min;
        streak = diverging ? streak + 1 : 0;
        if (streak >= t.sustain || blown) {
          const sev = Math.max(fast, loss) > t.criticalFactor * Math.max(firstLoss, L.initial ?? firstLoss) ? 'critical' : 'warning';
          sink.fire(undefined, { lossEma: r4(fast), loss: r4(loss), bestLossEma: r4(Math.min(min, firstLoss)), initialLoss: r4(firstLoss), steps: streak, blowup: blown }, sev);
        } else if (!diverging) {
          sink.clear();
        }
      },
    };
  },
});

export const lossPlateau = defineRule({
  id: 'lr.loss_plateau',
  section: SECTIONS.lr,
  severity: 'warning',
  condition:
    'The mean loss of each window of `window` steps is compared with the previous window\'s: a change smaller ' +
    'than minChange (relative) or than `noise` standard errors is a plateau. Warning when the current window is ' +
    'less than noProgress below the first window (the run is not learning); info otherwise (converged, or stuck ' +
    'late). Windows in which the lr was warming up are skipped. Only for non-negative losses.',
  thresholds: { window: 200, minChange: 0.01, noise: 2, noProgress: 0.05 },
  requires: ['scalars.loss (scalars.lr to skip warm-up)'],
  advice:
    'The loss has stopped moving. Early in a run this means the network is not learning: raise the learning ' +
    'rate, check the data and labels, or switch to an adaptive optimizer. Late in a run, decay the rate or stop.',
  clearAfter: 1,
  create(t) {
    const w = new WindowMeans(Math.max(10, Math.round(t.window)));
    let warmup = false;
    return {
      onStep(ctx, s, sink) {
        const loss = s.scalars.loss;
        if (loss === undefined || !Number.isFinite(loss) || !ctx.loss.allNonNegative) return;
        warmup ||= ctx.lr.rising;
        if (!w.push(loss)) return;
        const skip = warmup;
        warmup = false;
        const { prev, last, first } = w;
        if (!prev || !last || first === undefined || skip) return;
        const delta = Math.abs(last.mean - prev.mean);
        const flat = delta < t.minChange * Math.abs(prev.mean) || delta < t.noise * Math.hypot(prev.se, last.se);
        if (!flat) {
          sink.clear();
          return;
        }
        const progress = first > 0 ? (first - last.mean) / first : 0;
        sink.fire(
          undefined,
          { lossMean: r4(last.mean), lossMeanWindowBefore: r4(prev.mean), firstWindowMean: r4(first), progress: r4(progress), window: w.size },
          progress < t.noProgress ? 'warning' : 'info',
        );
      },
    };
  },
});

export default [lossDiverging, lossPlateau];
