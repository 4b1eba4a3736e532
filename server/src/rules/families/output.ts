/**
 * Output layer and loss function. Classification wants softmax + (multi-class) cross-entropy,
 * regression an identity output + MSE. Frameworks split the softmax differently: PyTorch's
 * CrossEntropyLoss and BCEWithLogitsLoss take raw logits (an identity last layer is right,
 * a softmax there is applied twice), while Keras' categorical_crossentropy and DL4J's MCXENT /
 * NEGATIVELOGLIKELIHOOD expect probabilities. Only explicitly declared activations are judged.
 */
import type { RunContext } from '../context.js';
import { SECTIONS, defineRule } from '../rule.js';
import { isIdentity, isLogSoftmax, isSigmoid, isSoftmax, norm } from '../util.js';

type LossKind = 'logitCE' | 'logitBCE' | 'probCE' | 'nll' | 'probBCE' | 'regression';

const LOSSES: Record<string, LossKind> = {
  crossentropyloss: 'logitCE', crossentropy: 'logitCE', softmaxcrossentropy: 'logitCE',
  softmaxcrossentropywithlogits: 'logitCE', sparsesoftmaxcrossentropywithlogits: 'logitCE',
  bcewithlogitsloss: 'logitBCE', sigmoidcrossentropy: 'logitBCE', sigmoidcrossentropywithlogits: 'logitBCE',
  categoricalcrossentropy: 'probCE', sparsecategoricalcrossentropy: 'probCE', mcxent: 'probCE',
  negativeloglikelihood: 'probCE', nllloss: 'nll', nll: 'nll',
  bceloss: 'probBCE', binarycrossentropy: 'probBCE', xent: 'probBCE',
  mseloss: 'regression', mse: 'regression', meansquarederror: 'regression', l1loss: 'regression',
  mae: 'regression', meanabsoluteerror: 'regression', smoothl1loss: 'regression', huberloss: 'regression',
  huber: 'regression', squaredloss: 'regression', l2loss: 'regression',
};

export function lossKind(ctx: RunContext): { name: string; kind: LossKind } | undefined {
  const name = ctx.model?.loss ?? ctx.cfgStr('loss');
  if (!name) return undefined;
  let kind = LOSSES[norm(name.split('.').pop())];
  if (!kind) return undefined;
  // Keras losses take logits when asked to.
  if (ctx.config.fromLogits === true && kind === 'probCE') kind = 'logitCE';
  if (ctx.config.fromLogits === true && kind === 'probBCE') kind = 'logitBCE';
  return { name, kind };
}

const REASONS: Record<string, string> = {
  double_softmax: 'the loss applies softmax to logits itself, and the last layer already applies one',
  double_sigmoid: 'the loss applies a sigmoid itself, and the last layer already applies one',
  probs_expected: 'the loss expects probabilities but the last layer outputs raw scores (no softmax)',
  logprobs_expected: 'NLLLoss expects log-probabilities: end the network with log_softmax',
  sigmoid_expected: 'binary cross-entropy on probabilities needs a sigmoid output',
  regression_with_softmax: 'a regression-type loss (MSE/L1) on a softmax output',
  classification_with_regression_loss: 'a classification task trained with a regression loss',
  regression_with_classification: 'a regression task with a classification loss or softmax output',
};

export const lossMismatch = defineRule({
  id: 'output.loss_mismatch',
  section: SECTIONS.output,
  severity: 'warning',
  condition:
    'The loss, the last layer\'s declared activation and config.task contradict each other: softmax before a ' +
    'logits loss (PyTorch CrossEntropyLoss), sigmoid before BCEWithLogitsLoss, an identity output into a ' +
    'probability loss (Keras/DL4J cross-entropy, BCELoss, NLLLoss), MSE on softmax, a classification task with ' +
    'a regression loss, or a regression task with a classification loss. Logits into CrossEntropyLoss is correct.',
  thresholds: {},
  requires: ['model.loss or config.loss', 'model.layers[-1].activation and/or config.task'],
  advice:
    'Match the output layer to the loss: for classification, softmax + cross-entropy (with PyTorch, feed raw ' +
    'logits to CrossEntropyLoss); for regression, an identity output + MSE.',
  clearAfter: 1,
  create() {
    return {
      check(ctx, sink) {
        const loss = lossKind(ctx);
        const act = ctx.lastLayer()?.activation;
        const task = norm(ctx.cfgStr('task'));
        const reasons: string[] = [];
        const k = loss?.kind;
        if (k === 'logitCE' && (isSoftmax(act) || isLogSoftmax(act))) reasons.push('double_softmax');
        if (k === 'logitBCE' && isSigmoid(act)) reasons.push('double_sigmoid');
        if (k === 'probCE' && isIdentity(act)) reasons.push('probs_expected');
        if (k === 'nll' && (isIdentity(act) || isSoftmax(act))) reasons.push('logprobs_expected');
        if (k === 'probBCE' && isIdentity(act)) reasons.push('sigmoid_expected');
        if (k === 'regression' && isSoftmax(act)) reasons.push('regression_with_softmax');
        if (task === 'classification' && k === 'regression') reasons.push('classification_with_regression_loss');
        if (task === 'regression' && ((k && k !== 'regression') || isSoftmax(act))) reasons.push('regression_with_classification');
        if (reasons.length === 0) return;
        sink.fire(undefined, {
          loss: loss?.name ?? null,
          lastActivation: act ?? null,
          task: ctx.cfgStr('task') ?? null,
          reasons,
          explanation: reasons.map((r) => REASONS[r]),
        });
      },
    };
  },
});

/** Output range of the last layer's activation, for the label-range check. */
function actRange(a: string | undefined): [number, number] | undefined {
  const n = norm(a);
  if (n === 'sigmoid' || n === 'logistic' || n === 'softmax' || n === 'hardsigmoid') return [0, 1];
  if (n === 'tanh' || n === 'hardtanh' || n === 'softsign') return [-1, 1];
  if (n === 'relu' || n === 'relu6' || n === 'softplus') return [0, n === 'relu6' ? 6 : Number.POSITIVE_INFINITY];
  return undefined;
}

export const targetRange = defineRule({
  id: 'output.target_range',
  section: SECTIONS.output,
  severity: 'warning',
  condition:
    'config.targetMin/targetMax (the label range) fall outside what the last layer\'s activation can output ' +
    '(sigmoid/softmax [0,1], tanh [-1,1], ReLU [0,∞)).',
  thresholds: {},
  requires: ['config.targetMin and/or config.targetMax', 'model.layers[-1].activation'],
  advice:
    'The labels lie outside the range the output activation can produce, so the network can never fit them: ' +
    'rescale the labels or use an output activation that covers their range (identity for regression).',
  clearAfter: 1,
  create() {
    return {
      check(ctx, sink) {
        const act = ctx.lastLayer()?.activation;
        const range = actRange(act);
        const lo = ctx.cfgNum('targetMin');
        const hi = ctx.cfgNum('targetMax');
        if (!range || (lo === undefined && hi === undefined)) return;
        if ((lo !== undefined && lo < range[0]) || (hi !== undefined && hi > range[1])) {
          sink.fire(undefined, { targetMin: lo ?? null, targetMax: hi ?? null, activation: act, outputRange: range.map(String) });
        }
      },
    };
  },
});

export default [lossMismatch, targetRange];
