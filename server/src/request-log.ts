import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import { redactUrl } from './log-options.js';

/**
 * Fastify's per-request lines, moved from info to debug, one line per request with the URL's
 * token values redacted. Errors of a request are still logged by the error handler.
 */
export class RequestLog extends LogController {
  /** At trace: a WebSocket upgrade never completes as a request, so this is its only line. */
  override incomingRequest(request: FastifyRequest): void {
    request.log.trace({ method: request.method, url: redactUrl(request.url) }, 'incoming request');
  }

  override requestCompleted(_error: Error | null, request: FastifyRequest, reply: FastifyReply): void {
    request.log.debug({ method: request.method, url: redactUrl(request.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  }
}
