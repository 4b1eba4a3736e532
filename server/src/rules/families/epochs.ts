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
  /** The last `patience` eval losses, to judge a sustained rise rather than one noisy eval. */
  recent: number[];
}

export const overfitting = defineRule({
  id: 'epochs.overfitting',
  section: SECTIONS.epochs,
  severity: 'warning',
  condition:
    'Once the training data has been seen more than once (an epoch >= 1 sent with steps or evals, or more ' +
    'examples than config.datasetSize; runs that send neither are judged too), the last `patience` eval losses ' +
    'all failed to improve on the best and their mean exceeds it by more than minRise × the larger of the best ' +
    'eval loss and minScale × the starting training loss, while the training loss (slow EMA) is below its ' +
    'level at the best evaluation and has lost at least minProgress of its starting value (a model that cannot ' +
    'fit its training data is not overfitting): a sustained, significant widening of the train/eval gap. ' +
    'A sustained rise above minorRise (but below minRise) is reported as info.',
  thresholds: { patience: 3, minRise: 0.5, minorRise: 0.2, minScale: 0.25, minEvals: 4, minProgress: 0.3 },
  requires: ['eval {split, metrics.loss}', 'scalars.loss', 'steps[].epoch or examples + config.datasetSize (to know the data repeats)'],
  advice:
    'The model now fits the training data at the expense of unseen data: stop early and keep the checkpoint ' +
    'of the best evaluation, or add regularisation (weight decay, dropout, more data).',
  clearAfter: 1,
  create(t) {
    const splits = new Map<string, SplitState>();
    const patience = Math.max(1, Math.round(t.patience));
    return {
      onEval(ctx, ev, sink) {
        const loss = ev.metrics.loss;
        if (loss === undefined || !Number.isFinite(loss)) return;
        const train = ctx.loss.slow.value;
        let st = splits.get(ev.split);
        if (!st) {
          st = { best: loss, bestStep: ev.step, bestEpoch: ev.epoch, trainAtBest: train, sinceBest: 0, evals: 0, recent: [] };
          splits.set(ev.split, st);
        }
        st.evals++;
        st.recent.push(loss);
        if (st.recent.length > patience) st.recent.shift();
        if (loss < st.best) {
          Object.assign(st, { best: loss, bestStep: ev.step, bestEpoch: ev.epoch, trainAtBest: train, sinceBest: 0 });
          sink.clear();
          return;
        }
        st.sinceBest++;
        // Data seen once cannot be overfitted: a rising eval loss on fresh data is noise or drift.
        if (ctx.repeatedData() === false) return;
        const mean = st.recent.reduce((a, b) => a + b, 0) / st.recent.length;
        const scale = Math.max(st.best, t.minScale * (ctx.loss.initial ?? 0));
        const trainFalling = train !== undefined && st.trainAtBest !== undefined && train < st.trainAtBest &&
          (ctx.loss.progress() ?? 0) >= t.minProgress;
        const rose = st.sinceBest >= patience && mean - st.best > t.minorRise * scale;
        const significant = mean - st.best > t.minRise * scale;
        if (st.evals >= t.minEvals && rose && trainFalling) {
          sink.fire(undefined, {
            split: ev.split,
            evalLoss: r4(loss),
            recentEvalMean: r4(mean),
            bestEvalLoss: r4(st.best),
            bestStep: st.bestStep,
            bestEpoch: st.bestEpoch ?? null,
            evalsSinceBest: st.sinceBest,
            trainLossAtBest: r4(st.trainAtBest),
            trainLossNow: r4(train),
          }, significant ? 'warning' : 'info');
        } else if (!rose) {
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
