/**
 * The cause model: which root causes each rule's alert can come from (with a weight: how
 * specific the alert is for that cause), and which causes produce which others (the cause
 * graph of docs/diagnosis.md). The first cause a rule lists is its own: the diagnosis it
 * stands for when no other cause explains it.
 */
import type { RootCause } from '@gradwatch/shared';
import type { Symptom } from './symptoms.js';

export type Link = readonly [RootCause, number];

export const TITLES: Record<RootCause, string> = {
  lr_too_high: 'Learning rate too high',
  lr_too_low: 'Learning rate too low',
  inputs_unnormalized: 'Inputs not normalized',
  train_eval_mismatch: 'Training and eval data prepared differently',
  bad_input_data: 'NaN or Inf in the input data',
  bad_init: 'Bad weight initialization',
  dead_relu: 'Dead ReLUs',
  saturating_activations: 'Saturating activations (sigmoid/tanh)',
  vanishing_gradients: 'Vanishing gradients',
  exploding_gradients: 'Exploding gradients',
  overfitting: 'Overfitting',
  regularization_too_strong: 'Regularization too strong',
  output_loss_mismatch: 'Output activation and loss do not match',
  minibatch_too_small: 'Minibatch too small',
  numerical_nan: 'Numerical NaN/Inf',
  weights_not_updating: 'Weights not updating',
  slow_optimizer: 'Slow optimizer',
  schedule_mismatch: 'Schedule not scaled for the workers',
  network_shape: 'Network shape',
};

/**
 * cause → the causes it produces downstream. When both are diagnosed and the upstream one was
 * visible first (or within FOLD_SLACK steps), the downstream one is folded under it.
 */
export const PRODUCES: Partial<Record<RootCause, readonly RootCause[]>> = {
  lr_too_high: ['exploding_gradients', 'numerical_nan', 'dead_relu', 'saturating_activations', 'vanishing_gradients', 'weights_not_updating'],
  inputs_unnormalized: ['lr_too_high', 'exploding_gradients', 'numerical_nan', 'saturating_activations', 'dead_relu', 'bad_init'],
  bad_init: ['dead_relu', 'saturating_activations', 'vanishing_gradients', 'exploding_gradients', 'weights_not_updating', 'numerical_nan', 'lr_too_low'],
  saturating_activations: ['vanishing_gradients', 'lr_too_low'],
  dead_relu: ['vanishing_gradients', 'weights_not_updating', 'lr_too_low'],
  exploding_gradients: ['numerical_nan'],
  vanishing_gradients: ['lr_too_low'],
  // Weights pinned near zero make every update large next to them: a high update ratio follows.
  regularization_too_strong: ['lr_too_low', 'lr_too_high', 'vanishing_gradients', 'dead_relu', 'weights_not_updating'],
  output_loss_mismatch: ['lr_too_low', 'vanishing_gradients'],
  weights_not_updating: ['lr_too_low', 'vanishing_gradients'],
  bad_input_data: ['numerical_nan', 'inputs_unnormalized'],
  train_eval_mismatch: ['overfitting'],
  minibatch_too_small: ['lr_too_high'],
};

/** A downstream cause folds only under an upstream one seen no later than this many steps after it. */
export const FOLD_SLACK = 50;

const NAN_LINKS: Record<string, readonly Link[]> = {
  learning_rate_too_high: [['numerical_nan', 0.5], ['lr_too_high', 0.7], ['exploding_gradients', 0.4], ['inputs_unnormalized', 0.5], ['bad_init', 0.4]],
  exploding_gradients: [['numerical_nan', 0.5], ['exploding_gradients', 0.7], ['lr_too_high', 0.6], ['inputs_unnormalized', 0.5], ['bad_init', 0.4]],
  input_data: [['bad_input_data', 0.95]],
  underflow: [['numerical_nan', 0.6], ['vanishing_gradients', 0.5], ['bad_init', 0.5], ['saturating_activations', 0.4]],
  unknown: [['numerical_nan', 0.8], ['lr_too_high', 0.3], ['inputs_unnormalized', 0.4], ['exploding_gradients', 0.3]],
};

const PLATEAU: readonly Link[] = [
  ['lr_too_low', 0.5], ['bad_init', 0.5], ['dead_relu', 0.5], ['saturating_activations', 0.5], ['vanishing_gradients', 0.5],
  ['regularization_too_strong', 0.5], ['output_loss_mismatch', 0.5], ['weights_not_updating', 0.5], ['slow_optimizer', 0.4],
  ['overfitting', 0.3],
];

const STATIC_LINKS: Record<string, readonly Link[]> = {
  'data.inputs_unnormalized': [['inputs_unnormalized', 0.9]],
  'data.train_eval_mismatch': [['train_eval_mismatch', 0.9]],
  'init.scale': [['bad_init', 0.85]],
  'init.relu_xavier': [['bad_init', 0.3]],
  'epochs.overfitting': [['overfitting', 0.85], ['train_eval_mismatch', 0.3]],
  'epochs.eval_above_train': [['train_eval_mismatch', 0.3]],
  'lr.update_ratio_high': [['lr_too_high', 0.8], ['inputs_unnormalized', 0.4], ['bad_init', 0.2]],
  'lr.update_ratio_low': [['lr_too_low', 0.8], ['bad_init', 0.3], ['regularization_too_strong', 0.3], ['vanishing_gradients', 0.3],
    ['saturating_activations', 0.3], ['dead_relu', 0.3], ['output_loss_mismatch', 0.3], ['weights_not_updating', 0.3]],
  'lr.loss_diverging': [['lr_too_high', 0.75], ['inputs_unnormalized', 0.5], ['minibatch_too_small', 0.5], ['exploding_gradients', 0.4],
    ['bad_init', 0.3], ['overfitting', 0.2]],
  'schedule.per_iteration_multi_worker': [['schedule_mismatch', 0.5]],
  'act.saturating_hidden': [['saturating_activations', 0.6]],
  'act.saturated': [['saturating_activations', 0.7], ['bad_init', 0.6], ['inputs_unnormalized', 0.6], ['lr_too_high', 0.4]],
  'act.dead_units': [['dead_relu', 0.7], ['lr_too_high', 0.5], ['bad_init', 0.5], ['inputs_unnormalized', 0.4], ['regularization_too_strong', 0.3]],
  'act.std_out_of_range': [['bad_init', 0.4], ['inputs_unnormalized', 0.4], ['lr_too_high', 0.3], ['dead_relu', 0.3],
    ['saturating_activations', 0.3], ['regularization_too_strong', 0.3], ['vanishing_gradients', 0.3]],
  'output.loss_mismatch': [['output_loss_mismatch', 0.9]],
  'output.target_range': [['output_loss_mismatch', 0.9]],
  'reg.too_strong': [['regularization_too_strong', 0.8]],
  'reg.weights_collapsing': [['regularization_too_strong', 0.8]],
  'reg.dropout_semantics': [['regularization_too_strong', 0.6]],
  'batch.loss_oscillating': [['minibatch_too_small', 0.6], ['lr_too_high', 0.5]],
  'optim.sgd_stalling': [['slow_optimizer', 0.5], ['lr_too_low', 0.4]],
  'grad.exploding': [['exploding_gradients', 0.8], ['lr_too_high', 0.5], ['inputs_unnormalized', 0.4], ['bad_init', 0.4]],
  'grad.norm_ratio_high': [['exploding_gradients', 0.6], ['bad_init', 0.4], ['inputs_unnormalized', 0.3]],
  'grad.vanishing': [['vanishing_gradients', 0.7], ['saturating_activations', 0.6], ['bad_init', 0.6], ['dead_relu', 0.4]],
  'grad.vanishing_layer': [['vanishing_gradients', 0.6], ['dead_relu', 0.5], ['bad_init', 0.5], ['saturating_activations', 0.5],
    ['weights_not_updating', 0.3], ['regularization_too_strong', 0.3]],
  'weights.unchanged': [['weights_not_updating', 0.8], ['bad_init', 0.6], ['dead_relu', 0.5]],
  'rnn.no_tbptt': [['network_shape', 0.3], ['exploding_gradients', 0.2]],
  'units.hidden_too_small': [['network_shape', 0.3]],
  'units.bottleneck_not_smaller': [['network_shape', 0.6]],
};

/** The causes a symptom can come from, its own first; some depend on what the alert measured. */
export function linksOf(s: Symptom): readonly Link[] {
  switch (s.rule) {
    case 'nan.detected':
      return NAN_LINKS[String(s.first.likelyCause)] ?? NAN_LINKS.unknown ?? [];
    case 'lr.config_out_of_range': {
      const lr = Number(s.latest.lr);
      return [[lr > Number(s.latest.max) ? 'lr_too_high' : 'lr_too_low', 0.3]];
    }
    case 'lr.loss_plateau':
      return PLATEAU;
    case 'init.constant':
      return [['bad_init', s.severity === 'info' ? 0.5 : 0.95]];
    case 'batch.too_small':
      return [['minibatch_too_small', s.severity === 'info' ? 0.3 : 0.85], ['lr_too_high', 0.1]];
    default:
      return STATIC_LINKS[s.rule] ?? [];
  }
}
