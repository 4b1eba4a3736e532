import fp from 'fastify-plugin';
import type { FastifyError } from 'fastify';

/**
 * The one error handler: 4xx errors say what was wrong; a 5xx never leaks its message, it is
 * logged with the request id instead.
 */
export default fp(
  async (app) => {
    app.setErrorHandler((err: FastifyError, req, reply) => {
      const status = err.statusCode ?? 500;
      if (status >= 500) {
        req.log.error({ err }, 'request failed');
        return reply.code(status).send({ statusCode: status, error: 'Internal Server Error', message: 'internal error; see the server log' });
      }
      const message = err.validation ? `invalid ${err.validationContext ?? 'request'}: ${err.message}` : err.message;
      return reply.code(status).send({ statusCode: status, error: httpName(status), message });
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
    409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 429: 'Too Many Requests',
  };
  return names[status] ?? 'Error';
}
