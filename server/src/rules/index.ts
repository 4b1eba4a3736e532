/**
 * The rule engine's public face. Ingest creates one engine per run at hello and feeds it every
 * message; REST serves the catalogue and validates per-project settings with it.
 */
export { ENDED_WITH_RUN, createRunEngine, type RunEngineOptions } from './engine.js';
export { RULE_CATALOGUE, RULE_IDS, validateRuleSettings, type RuleInfo, type RuleSettingsMap } from './catalogue.js';
export { SECTIONS } from './rule.js';
export type * from './types.js';
