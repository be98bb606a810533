export interface FieldError {
  path: string;
  message: string;
}

interface AppErrorOptions {
  detail?: string;
  errors?: FieldError[];
  headers?: Record<string, string>;
  cause?: unknown;
}

/** A typed error that the central handler turns into an RFC 9457 problem. */
export class AppError extends Error {
  readonly detail?: string;
  readonly errors?: FieldError[];
  readonly headers?: Record<string, string>;

  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    options: AppErrorOptions = {},
  ) {
    super(options.detail ?? title, { cause: options.cause });
    this.name = new.target.name;
    this.detail = options.detail;
    this.errors = options.errors;
    this.headers = options.headers;
  }
}

export class BadRequestError extends AppError {
  constructor(code = 'bad_request', detail?: string, errors?: FieldError[]) {
    super(400, code, 'Bad Request', { detail, errors });
  }
}

export class UnauthorizedError extends AppError {
  constructor(code = 'unauthorized', detail = 'Missing or invalid credentials') {
    super(401, code, 'Unauthorized', { detail, headers: { 'WWW-Authenticate': 'Bearer' } });
  }
}

export class ForbiddenError extends AppError {
  constructor(code = 'forbidden', detail = 'Your role does not allow this action') {
    super(403, code, 'Forbidden', { detail });
  }
}

export class NotFoundError extends AppError {
  constructor(code = 'not_found', detail = 'Resource not found') {
    super(404, code, 'Not Found', { detail });
  }
}

export class ConflictError extends AppError {
  constructor(code = 'conflict', detail?: string) {
    super(409, code, 'Conflict', { detail });
  }
}

export class ValidationError extends AppError {
  constructor(errors: FieldError[], detail = 'The request is not valid', code = 'validation_failed') {
    super(422, code, 'Unprocessable Content', { detail, errors });
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(detail = 'The request body is too large') {
    super(413, 'payload_too_large', 'Content Too Large', { detail });
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor(detail = 'The request body must be application/json') {
    super(415, 'unsupported_media_type', 'Unsupported Media Type', { detail });
  }
}

export class TooManyRequestsError extends AppError {
  constructor(retryAfterSeconds: number, code = 'rate_limited', detail = 'Too many requests') {
    super(429, code, 'Too Many Requests', { detail, headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) } });
  }
}

export class ServiceUnavailableError extends AppError {
  constructor(code = 'service_unavailable', detail = 'A dependency is unavailable, retry later', retryAfterSeconds = 5) {
    super(503, code, 'Service Unavailable', { detail, headers: { 'Retry-After': String(retryAfterSeconds) } });
  }
}
