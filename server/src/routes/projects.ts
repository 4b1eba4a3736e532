import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ErrorBody, Project, ProjectName } from '@gradwatch/shared';
import { deleteRun } from './runs.js';

const projects: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/projects', { schema: { response: { 200: Type.Object({ projects: Type.Array(Project) }) } } }, async () => ({
    projects: app.repos.runs.projectsWithCounts().map((p) => ({
      name: p.name, runCount: p.runCount, createdAt: p.createdAt, lastSeenAt: p.lastSeenAt,
    })),
  }));

  app.delete(
    '/projects/:project',
    { schema: { params: Type.Object({ project: ProjectName }), response: { 204: Type.Null(), 404: ErrorBody } } },
    async (req, reply) => {
      const p = app.repos.runs.projectByName(req.params.project);
      if (!p) return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no project ${req.params.project}` });
      for (const r of app.repos.runs.runsOfProject(p.id)) deleteRun(app, r.uid);
      app.repos.runs.deleteProject(p.id);
      return reply.code(204).send(null);
    },
  );
};

export default projects;
