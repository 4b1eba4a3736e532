import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ErrorBody, ProjectList, ProjectParams } from '@gradwatch/shared';

const projectRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/projects', { schema: { response: { 200: ProjectList } } }, async () => ({ projects: await app.projects.list() }));

  app.delete('/projects/:project', { schema: { params: ProjectParams, response: { 204: Type.Null(), 404: ErrorBody } } }, async (req, reply) => {
    await app.runs.deleteProject(req.params.project);
    return reply.code(204).send(null);
  });
};

export default projectRoutes;
