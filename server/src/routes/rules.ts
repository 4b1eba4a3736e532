import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ErrorBody, ProjectName } from '@gradwatch/shared';
import { RULE_CATALOGUE, validateRuleSettings } from '../rules/index.js';

const RuleInfoSchema = Type.Object({
  id: Type.String(),
  section: Type.String(),
  severity: Type.String(),
  description: Type.String(),
  condition: Type.String(),
  thresholds: Type.Record(Type.String(), Type.Number()),
  requires: Type.Array(Type.String()),
  advice: Type.String(),
  clearAfter: Type.Integer(),
});
const RuleSettingSchema = Type.Object({
  enabled: Type.Optional(Type.Boolean()),
  stop: Type.Optional(Type.Boolean({ description: 'Send the training job a stop command when this rule opens an alert' })),
  thresholds: Type.Optional(Type.Record(Type.String(), Type.Number())),
});
const SettingsBody = Type.Record(Type.String({ maxLength: 100 }), RuleSettingSchema);
const Settings = Type.Object({ project: Type.String(), settings: SettingsBody });

/** The rule catalogue and per-project rule settings (thresholds, disabled rules, stopping rules). */
const rules: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/rules', { schema: { response: { 200: Type.Object({ rules: Type.Array(RuleInfoSchema) }) } } }, async () => ({
    rules: RULE_CATALOGUE.map((r) => ({ ...r, thresholds: { ...r.thresholds }, requires: [...r.requires] })),
  }));

  const params = Type.Object({ project: ProjectName });

  app.get('/projects/:project/rules', { schema: { params, response: { 200: Settings, 404: ErrorBody } } }, async (req, reply) => {
    const p = app.repos.runs.projectByName(req.params.project);
    if (!p) return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no project ${req.params.project}` });
    return { project: p.name, settings: JSON.parse(p.ruleSettings) as Record<string, Record<string, never>> };
  });

  app.put(
    '/projects/:project/rules',
    { schema: { params, body: SettingsBody, response: { 200: Settings, 400: ErrorBody } } },
    async (req, reply) => {
      const checked = validateRuleSettings(req.body);
      if (!checked.ok) return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: checked.error });
      // Settings may be made ready before the project's first run arrives.
      const p = app.repos.runs.ensureProject(req.params.project);
      app.repos.runs.setRuleSettings(p.id, JSON.stringify(checked.value));
      app.ingest.applyRuleSettings(p.id, checked.value);
      return { project: p.name, settings: checked.value as Record<string, Record<string, never>> };
    },
  );
};

export default rules;
