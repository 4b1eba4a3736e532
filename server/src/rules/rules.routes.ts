import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ErrorBody, ProjectParams, ProjectRuleSettings, RuleList, RuleSettingsBody } from '@gradwatch/shared';

/** The rule catalogue and per-project rule settings. */
const ruleRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/rules', { schema: { response: { 200: RuleList } } }, async () => app.rules.catalogue());

  app.get('/projects/:project/rules', { schema: { params: ProjectParams, response: { 200: ProjectRuleSettings, 404: ErrorBody } } }, async (req) =>
    await app.rules.settingsOf(req.params.project),
  );

  app.put(
    '/projects/:project/rules',
    { schema: { params: ProjectParams, body: RuleSettingsBody, response: { 200: ProjectRuleSettings, 400: ErrorBody } } },
    async (req) => app.rules.replace(req.params.project, req.body),
  );
};

export default ruleRoutes;
