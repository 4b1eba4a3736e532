/**
 * Epochs and iterations: too many epochs overfit. Early stopping is the guide's answer, so
 * the overfitting alert reports the best evaluation so far (the step/epoch to stop at).
 */
import { SECTIONS, defineRule } from '../rule.js';
import { Ema, r4 } from '../util.js';

interface SplitState {
  best: number;
  bestStep: number;
  bestEpoch: number | undefined;
  trainAtBest: number | undefined;
  sinceBest: number;
  evals: number;
}

export const overfitting = defineRule({
  id: 'epochs.overfitting',
  section: SECTIONS.epochs,
  severity: 'warning',
  condition:
    'The eval loss has not improved on its best for `patience` evaluations and now exceeds it by more than ' +
    'minRise (relative), while the training loss (slow EMA) is lower than it was at the best evaluation.',
  thresholds: { patience: 3, minRise: 0.05, minEvals: 4 },
  requires: ['eval {split, metrics.loss}', 'scalars.loss'],
  advice:
    'The model now fits the training data at the expense of unseen data: stop early and keep the checkpoint ' +
    'of the best evaluation, or add regularisation (weight decay, dropout, more data).',
  clearAfter: 1,
  create(t) {
    const splits = new Map<string, SplitState>();
    return {
      onEval(ctx, ev, sink) {
        const loss = ev.metrics.loss;
        if (loss === undefined || !Number.isFinite(loss)) return;
        const train = ctx.loss.slow.value;
        let st = splits.get(ev.split);
        if (!st) {
          st = { best: loss, bestStep: ev.step, bestEpoch: ev.epoch, trainAtBest: train, sinceBest: 0, evals: 0 };
          splits.set(ev.split, st);
        }
        st.evals++;
        if (loss < st.best) {
          Object.assign(st, { best: loss, bestStep: ev.step, bestEpoch: ev.epoch, trainAtBest: train, sinceBest: 0 });
          sink.clear();
          return;
        }
        st.sinceBest++;
        const trainFalling = train !== undefined && st.trainAtBest !== undefined && train < st.trainAtBest;
        if (st.evals >= t.minEvals && st.sinceBest >= t.patience && loss > st.best * (1 + t.minRise) && trainFalling) {
          sink.fire(undefined, {
            split: ev.split,
            evalLoss: r4(loss),
            bestEvalLoss: r4(st.best),
            bestStep: st.bestStep,
            bestEpoch: st.bestEpoch ?? null,
            evalsSinceBest: st.sinceBest,
            trainLossAtBest: r4(st.trainAtBest),
            trainLossNow: r4(train),
          });
        } else if (st.sinceBest === 0) {
          sink.clear();
        }
      },
    };
  },
});

const accOf = (m: Record<string, number>): number | undefined => m.acc ?? m.accuracy;

export const evalAboveTrain = defineRule({
  id: 'epochs.eval_above_train',
  section: SECTIONS.epochs,
  severity: 'info',
  condition:
    'Eval accuracy exceeds the running training accuracy by more than `gap` (absolute). Heavy dropout or ' +
    'augmentation can do this legitimately; a leak between the splits or a different eval pipeline can too.',
  thresholds: { gap: 0.1, minTrainSteps: 100 },
  requires: ['scalars.acc (or accuracy)', 'eval metrics.acc (or accuracy)'],
  advice:
    'Eval accuracy well above training accuracy is unusual: check that eval data does not overlap the training ' +
    'set and that both go through the same preprocessing; strong dropout or augmentation can also explain it.',
  clearAfter: 2,
  create(t) {
    const train = new Ema(0.1);
    let n = 0;
    return {
      onStep(_ctx, s) {
        const a = accOf(s.scalars);
        if (a === undefined || !Number.isFinite(a)) return;
        train.push(a);
        n++;
      },
      onEval(_ctx, ev, sink) {
        const a = accOf(ev.metrics);
        if (a === undefined || !Number.isFinite(a) || n < t.minTrainSteps || train.value === undefined) return;
        if (a - train.value > t.gap) {
          sink.fire(undefined, { split: ev.split, evalAcc: r4(a), trainAcc: r4(train.value) });
        } else {
          sink.clear();
        }
      },
    };
  },
});

export default [overfitting, evalAboveTrain];
