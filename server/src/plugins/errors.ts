import fp from 'fastify-plugin';
import type { FastifyError } from 'fastify';
import { illFormedString } from '@gradwatch/shared';
import { badRequest, HttpError } from '../http-errors.js';

/**
 * The one error handler: 4xx errors say what was wrong; a 5xx never leaks its message, it is
 * logged with the request id instead; a database that cannot answer now is a 503 to retry.
 */
export default fp(
  async (app) => {
    app.setErrorHandler((err: FastifyError, req, reply) => {
      const status = err.statusCode ?? 500;
      // Thrown on purpose by a service: its message is written for the client, whatever the status.
      if (err instanceof HttpError) return reply.code(status).send({ statusCode: status, error: httpName(status), message: err.message });
      // The store cannot answer now (PostgreSQL unreachable, SQLite busy): worth a retry, and said so.
      if (app.hasDecorator('backend') && app.backend.isTransient(err)) {
        req.log.warn({ err }, 'the database cannot answer');
        return reply.code(503).send({ statusCode: 503, error: httpName(503), message: 'the database is unreachable or busy; nothing was changed: try again shortly' });
      }
      if (status >= 500) {
        req.log.error({ err }, 'request failed');
        return reply.code(status).send({ statusCode: status, error: 'Internal Server Error', message: 'internal error; see the server log' });
      }
      const message = err.validation ? `invalid ${err.validationContext ?? 'request'}: ${err.message}` : err.message;
      return reply.code(status).send({ statusCode: status, error: httpName(status), message });
    });
    // Ajv coerces "1e400" or "Infinity" to Infinity and then passes it as an integer within its
    // maximum; no route wants a non-finite number from a URL, so refuse them here with a 400.
    app.addHook('preHandler', async (req) => {
      for (const [where, obj] of [['querystring', req.query], ['params', req.params]] as const) {
        if (!obj || typeof obj !== 'object') continue;
        for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
          if (typeof v === 'number' && !Number.isFinite(v)) throw badRequest(`invalid ${where}: ${where}/${k} must be a finite number`);
        }
      }
      // The databases cannot hold a lone surrogate (nor PostgreSQL a NUL): refused in any body,
      // as on the sockets (shared/src/protocol/strings.ts), before anything is stored. A query
      // or a path only looks things up: a NUL there finds nothing.
      for (const [where, obj] of [['body', req.body], ['querystring', req.query], ['params', req.params]] as const) {
        const bad = illFormedString(obj, where, where === 'body');
        if (bad) throw badRequest(`invalid ${bad}`);
      }
    });
    app.setNotFoundHandler((req, reply) =>
      reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no route ${req.method} ${req.url.split('?')[0]}` }),
    );
  },
  { name: 'errors' },
);

function httpName(status: number): string {
  const names: Record<number, string> = {
    400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
    409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 429: 'Too Many Requests', 503: 'Service Unavailable',
  };
  return names[status] ?? 'Error';
}
