/**
 * Updater and optimization algorithm. Plain SGD works, but momentum (Nesterov), RMSProp,
 * Adagrad or Adam usually train much faster. We only say so when plain SGD is visibly slow:
 * the loss improves little per window while most of it is still there.
 */
import { SECTIONS, defineRule } from '../rule.js';
import { WindowMeans, norm, r4 } from '../util.js';
import type { RunContext } from '../context.js';

/** SGD without momentum. Absent momentum counts as none, as in PyTorch's and DL4J's SGD defaults. */
export function plainSgd(ctx: RunContext): boolean {
  const type = norm(ctx.optimizerType());
  if (type !== 'sgd') return false;
  const nesterov = ctx.model?.optimizer?.nesterov === true || ctx.config.nesterov === true;
  return (ctx.optimizerNum('momentum') ?? 0) === 0 && !nesterov;
}

export const sgdStalling = defineRule({
  id: 'optim.sgd_stalling',
  section: SECTIONS.optim,
  severity: 'info',
  condition:
    'The optimizer is plain SGD (no momentum, no Nesterov), the mean loss of the last window of `window` steps ' +
    'improved by less than minImprovement (relative) on the window before, and it is less than maxProgress below ' +
    'the first window\'s mean.',
  thresholds: { window: 200, minImprovement: 0.05, maxProgress: 0.5 },
  requires: ['optimizer type (model.optimizer.type or config.optimizer) and momentum', 'scalars.loss'],
  advice:
    'Plain SGD is making slow progress. Add momentum (0.9, or Nesterov) or use an adaptive updater such as ' +
    'Adam or RMSProp; they usually train much faster at the same cost per step.',
  clearAfter: 1,
  create(t) {
    const w = new WindowMeans(Math.max(10, Math.round(t.window)));
    return {
      onStep(ctx, s, sink) {
        const loss = s.scalars.loss;
        if (loss === undefined || !Number.isFinite(loss) || !ctx.loss.allNonNegative || !plainSgd(ctx)) return;
        if (!w.push(loss)) return;
        const { prev, last, first } = w;
        if (!prev || !last || first === undefined) return;
        const improvement = (prev.mean - last.mean) / Math.max(Math.abs(prev.mean), 1e-12);
        const progress = first > 0 ? (first - last.mean) / first : 1;
        if (improvement < t.minImprovement && progress < t.maxProgress) {
          sink.fire(undefined, {
            optimizer: ctx.optimizerType() ?? null,
            lossMean: r4(last.mean),
            lossMeanWindowBefore: r4(prev.mean),
            improvement: r4(improvement),
            progress: r4(progress),
          });
        } else sink.clear();
      },
    };
  },
});

export default [sgdStalling];
