import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ErrorBody, ProjectName } from '@gradwatch/shared';
import { HttpError, badRequest } from '../http-errors.js';
import { Dl4jService } from './dl4j.service.js';
import { decodeEnvelope } from './envelope.js';
import { Dl4jFormatError } from './sbe-reader.js';

/**
 * A StaticInfo carries the model's whole configuration JSON, base64 in a JSON string: a large
 * ComputationGraph's runs to a few megabytes, above the app's 1 MiB default.
 */
export const DL4J_BODY_LIMIT = 16 * 1024 * 1024;

const Query = Type.Object({
  project: Type.Optional(ProjectName),
  token: Type.Optional(Type.String({ maxLength: 500 })),
});

const Received = Type.Object({
  runId: Type.String(),
  stored: Type.Integer(),
  step: Type.Optional(Type.Integer()),
  note: Type.Optional(Type.String()),
});

/**
 * POST /remoteReceive: Deeplearning4j's RemoteUIStatsStorageRouter. DL4J cannot set headers,
 * so the token comes as ?token= (an Authorization header works too). Unlike DL4J's own server,
 * a message that cannot be read is answered 400 with the reason, and nothing of it is stored.
 */
const dl4jRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const service = new Dl4jService({ ingest: app.ingest, runs: app.runs, points: app.points, log: app.log });
  app.post(
    '/remoteReceive',
    {
      bodyLimit: DL4J_BODY_LIMIT,
      // Fastify logs each request's URL at info, and here the URL holds the token: not in our log.
      logLevel: 'warn',
      schema: {
        summary: 'Deeplearning4j remote UI receiver (RemoteUIStatsStorageRouter)',
        querystring: Query,
        response: { 200: Received, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 409: ErrorBody, 413: ErrorBody, 503: ErrorBody },
      },
    },
    async (req) => {
      const project = req.query.project ?? 'dl4j';
      const denied = await app.auth.checkIngest(app.auth.tokenOf(req), project);
      if (denied) throw new HttpError(denied.status, denied.message);
      let msg;
      try {
        msg = decodeEnvelope(req.body);
      } catch (e) {
        if (e instanceof Dl4jFormatError) throw badRequest(`cannot read this DL4J message: ${e.message}`);
        throw e;
      }
      return service.receive(msg, project);
    },
  );
};

export default dl4jRoutes;
