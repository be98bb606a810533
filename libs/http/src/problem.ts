import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { AppError, BadRequestError, NotFoundError, PayloadTooLargeError, ServiceUnavailableError, UnsupportedMediaTypeError } from './errors';

const PROBLEM_TYPE_BASE = 'https://docs.saas.example/problems/';

export function sendProblem(req: Request, res: Response, error: AppError): void {
  if (error.headers) for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  res
    .status(error.status)
    .type('application/problem+json')
    .send(
      JSON.stringify({
        type: PROBLEM_TYPE_BASE + error.code,
        title: error.title,
        status: error.status,
        detail: error.detail ?? error.title,
        code: error.code,
        request_id: String(req.id),
        ...(error.errors ? { errors: error.errors } : {}),
      }),
    );
}

/** Errors raised by body-parser carry a `type`; map them to the client's mistake they describe. */
function fromBodyParser(err: { type?: string; status?: number }): AppError | undefined {
  switch (err.type) {
    case 'entity.parse.failed':
      return new BadRequestError('malformed_json', 'The request body is not valid JSON');
    case 'entity.too.large':
      return new PayloadTooLargeError();
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new UnsupportedMediaTypeError('Unsupported content encoding or charset');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new BadRequestError('bad_request', 'The request body could not be read');
    default:
      return undefined;
  }
}

const CONNECTION_ERRORS = new Set([
  'SequelizeConnectionError',
  'SequelizeConnectionRefusedError',
  'SequelizeConnectionAcquireTimeoutError',
  'SequelizeHostNotReachableError',
  'SequelizeConnectionTimedOutError',
]);

/** Central error handler: every error leaves as application/problem+json with the request id. */
export function problemErrorHandler(): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const known =
      err instanceof AppError
        ? err
        : fromBodyParser(err) ??
          (CONNECTION_ERRORS.has(err?.name) ? new ServiceUnavailableError('database_unavailable', 'The database is unreachable, retry later') : undefined);
    if (known) {
      if (known.status >= 500) req.log?.warn({ err }, known.detail ?? known.title);
      return sendProblem(req, res, known);
    }
    req.log?.error({ err }, 'unhandled error');
    sendProblem(req, res, new AppError(500, 'internal_error', 'Internal Server Error', { detail: 'An unexpected error occurred' }));
  };
}

export const notFoundHandler: RequestHandler = (req, res) => {
  sendProblem(req, res, new NotFoundError('route_not_found', `No route for ${req.method} ${req.path}`));
};
