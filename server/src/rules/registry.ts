/**
 * Every rule, in the order the engine runs them (and the catalogue lists them). NaN comes
 * first so its critical alert leads the changes of the step it arrives on.
 */
import type { RuleDef } from './rule.js';
import nan from './families/nan.js';
import data from './families/data.js';
import init from './families/init.js';
import epochs from './families/epochs.js';
import lr from './families/learning-rate.js';
import lossTrend from './families/loss-trend.js';
import schedule from './families/schedule.js';
import act from './families/activation.js';
import output from './families/output.js';
import reg from './families/regularization.js';
import batch from './families/batch.js';
import optim from './families/optimizer.js';
import grads from './families/gradients.js';
import vanishing from './families/vanishing.js';
import network from './families/network.js';

export const RULE_DEFS: readonly RuleDef[] = [
  ...nan, ...data, ...init, ...epochs, ...lr, ...lossTrend, ...schedule, ...act, ...output, ...reg,
  ...batch, ...optim, ...grads, ...vanishing, ...network,
];
