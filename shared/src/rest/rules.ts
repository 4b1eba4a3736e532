import Type, { type Static } from 'typebox';
import { Severity } from '../alert.js';

export const RuleInfo = Type.Object({
  id: Type.String(),
  section: Type.String(),
  severity: Severity,
  description: Type.String(),
  condition: Type.String(),
  thresholds: Type.Record(Type.String(), Type.Number()),
  requires: Type.Array(Type.String()),
  advice: Type.String(),
  clearAfter: Type.Integer(),
});
export type RuleInfo = Static<typeof RuleInfo>;

export const RuleList = Type.Object({ rules: Type.Array(RuleInfo) });
export type RuleList = Static<typeof RuleList>;

export const RuleSetting = Type.Object({
  enabled: Type.Optional(Type.Boolean()),
  stop: Type.Optional(Type.Boolean({ description: 'Send the training job a stop command when this rule opens an alert' })),
  thresholds: Type.Optional(Type.Record(Type.String(), Type.Number())),
});
export type RuleSetting = Static<typeof RuleSetting>;

export const RuleSettingsBody = Type.Record(Type.String({ maxLength: 100 }), RuleSetting);
export type RuleSettingsBody = Static<typeof RuleSettingsBody>;

export const ProjectRuleSettings = Type.Object({ project: Type.String(), settings: RuleSettingsBody });
export type ProjectRuleSettings = Static<typeof ProjectRuleSettings>;
