/**
 * The errors a route throws; the one error handler (plugins/errors.ts) turns them into the
 * ErrorBody of their status. A 5xx never reaches a client with its message.
 */
export class HttpError extends Error {
  constructor(readonly statusCode: 400 | 401 | 403 | 404 | 409 | 413 | 429 | 503, message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, message);
export const notFound = (message: string): HttpError => new HttpError(404, message);
export const conflict = (message: string): HttpError => new HttpError(409, message);
export const unavailable = (message: string): HttpError => new HttpError(503, message);
