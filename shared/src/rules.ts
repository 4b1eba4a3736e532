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
