/**
 * Every rule id the server's troubleshooting engine can raise (docs/rules.md describes each).
 * Part of the contract: alerts carry one of these in `rule`, settings are keyed by them.
 */
export const RULE_IDS = [
  'nan.detected',
  'data.inputs_unnormalized', 'data.train_eval_mismatch',
  'init.scale', 'init.constant', 'init.relu_xavier',
  'epochs.overfitting', 'epochs.eval_above_train',
  'lr.update_ratio_high', 'lr.update_ratio_low', 'lr.config_out_of_range', 'lr.loss_diverging', 'lr.loss_plateau',
  'schedule.per_iteration_multi_worker',
  'act.saturating_hidden', 'act.saturated', 'act.dead_units', 'act.std_out_of_range',
  'output.loss_mismatch', 'output.target_range',
  'reg.too_strong', 'reg.weights_collapsing', 'reg.dropout_semantics',
  'batch.too_small', 'batch.loss_oscillating',
  'optim.sgd_stalling',
  'grad.exploding', 'grad.norm_ratio_high', 'grad.vanishing', 'grad.vanishing_layer',
  'weights.unchanged',
  'rnn.no_tbptt',
  'units.hidden_too_small', 'units.bottleneck_not_smaller',
] as const;
export type RuleId = (typeof RULE_IDS)[number];

/**
 * Root causes a diagnosis can name (docs/diagnosis.md describes each, the rules that point at it
 * and the causes it explains). Part of the contract: `Diagnosis.cause` is one of these.
 */
export const ROOT_CAUSES = [
  'lr_too_high', 'lr_too_low', 'inputs_unnormalized', 'train_eval_mismatch', 'bad_input_data',
  'bad_init', 'dead_relu', 'saturating_activations', 'vanishing_gradients', 'exploding_gradients',
  'overfitting', 'regularization_too_strong', 'output_loss_mismatch', 'minibatch_too_small',
  'numerical_nan', 'weights_not_updating', 'slow_optimizer', 'schedule_mismatch', 'network_shape',
] as const;
export type RootCause = (typeof ROOT_CAUSES)[number];
