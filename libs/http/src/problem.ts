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

/** Errors from Express' router and body parser (http-errors style) that blame the request, e.g. an undecodable `%ED%A0%80` path. */
function fromClientStatus(err: { status?: unknown; statusCode?: unknown; expose?: unknown }): AppError | undefined {
  const status = Number(err?.status ?? err?.statusCode);
  if (!(status >= 400 && status < 500)) return undefined;
  return new AppError(status, status === 400 ? 'bad_request' : 'client_error', status === 400 ? 'Bad Request' : 'Client Error', {
    detail: err.expose ? String((err as Error).message) : 'The request could not be understood',
  });
}

/**
 * Text PostgreSQL cannot store (a NUL character, an unpaired surrogate in JSON): the client's data, not our fault.
 * A safety net behind validation; the statement failed, so its transaction wrote nothing.
 */
function fromUnstorableText(err: { parent?: { code?: string; message?: string } }): AppError | undefined {
  const code = err?.parent?.code;
  const unstorable = code === '22021' || code === '22P05' || (code === '22P02' && /unicode|json/i.test(err.parent?.message ?? ''));
  return unstorable ? new AppError(422, 'unstorable_text', 'Unprocessable Content', { detail: 'A text value contains characters that cannot be stored (e.g. NUL)' }) : undefined;
}

/** Sequelize's connection errors, by name (this lib stays free of the ORM). */
const CONNECTION_ERRORS = new Set([
  'SequelizeConnectionError',
  'SequelizeConnectionRefusedError',
  'SequelizeConnectionAcquireTimeoutError',
  'SequelizeConnectionTimedOutError',
  'SequelizeHostNotFoundError',
  'SequelizeHostNotReachableError',
  'SequelizeInvalidConnectionError',
]);
/** PostgreSQL shutting down or restarting (57P0x), connection failures (08xxx), and the socket errors behind them. */
const UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', 'ECONNREFUSED', 'ECONNRESET']);

/** Whether an error means the database cannot be reached right now (answer 503 + Retry-After), not that the query was wrong. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const error = err as { name?: string; parent?: { code?: string; message?: string } } | undefined;
  if (CONNECTION_ERRORS.has(error?.name ?? '')) return true;
  const parent = error?.parent;
  return Boolean(parent && ((parent.code && UNAVAILABLE_CODES.has(parent.code)) || /Connection terminated/i.test(parent.message ?? '')));
}

/** Central error handler: every error leaves as application/problem+json with the request id. */
export function problemErrorHandler(): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const known =
      err instanceof AppError
        ? err
        : fromBodyParser(err) ??
          (isDatabaseUnavailable(err) ? new ServiceUnavailableError('database_unavailable', 'The database is unreachable, retry later') : undefined) ??
          fromUnstorableText(err) ??
          fromClientStatus(err);
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
