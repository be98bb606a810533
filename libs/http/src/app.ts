import { performance } from 'node:perf_hooks';
import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { ApiRouter, buildOpenApiDocument, type OpenApiInfo } from './api-router';
import { operationalRoutes, type ReadinessChecks } from './health';
import type { ServiceMetrics } from './metrics';
import { notFoundHandler, problemErrorHandler } from './problem';
import { requestIdMiddleware } from './request-id';

export interface HttpAppOptions {
  service: string;
  logger: Logger;
  metrics: ServiceMetrics;
  /** Express `trust proxy`: 'false', 'true', a hop count, or addresses/subnets. */
  trustProxy: string;
  readiness: ReadinessChecks;
  /** Largest JSON or form body accepted (bytes or a size string); larger answers 413. `false`: bodies stream through unparsed (proxies). */
  bodyLimit?: number | string | false;
  /**
   * Requests under this path prefix (e.g. `/webhooks/`) are not parsed here: their routes read the raw body
   * themselves, so that a signature is checked before any parse (signed webhooks).
   */
  rawBodyPrefix?: string;
  /** The service's declared API; mounted, and described at `GET /openapi.json`. */
  api?: { info: OpenApiInfo; routers: ApiRouter[] };
  /** Mounts anything else (e.g. a proxy) between the common middleware and the 404/error handlers. */
  routes?: (app: Express) => void;
  /** Turns a domain error into an HTTP one (an AppError) before the problem handler answers; others pass unchanged. */
  errorMap?: (err: unknown) => unknown;
}

export function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

declare module 'express-serve-static-core' {
  interface Request {
    /** This request's id (requestIdMiddleware): the caller's `x-request-id` when well-formed, else a fresh one. */
    id: string;
    /** The service's logger bound to this request's id (`request_id`), made on first use. */
    log: Logger;
  }
}

const QUIET_PATHS = new Set(['/healthz', '/readyz']);

/**
 * One access-log line per request (probes excepted), once its response is done or its client has gone: request id,
 * method, URL, client address (as `trust proxy` establishes it), status, response time in ms; level by status (5xx
 * error, 4xx warn, else info). Headers are not logged: pino-http's full request and response headers made a ~2 KB
 * line and were most of its cost (see docs/PERFORMANCE.md "Identity").
 */
function accessLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    if (QUIET_PATHS.has(req.url)) return next();
    const started = performance.now();
    res.once('close', () => {
      const status = res.statusCode;
      logger[status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info'](
        {
          request_id: req.id,
          req: { method: req.method, url: req.originalUrl, ip: req.ip },
          res: { statusCode: status },
          responseTime: Math.round(performance.now() - started),
        },
        res.writableFinished ? 'request completed' : 'request aborted',
      );
    });
    next();
  };
}

/** `req.log` of every request of `app`: a child logger with the request id, made only when something logs through it. */
function requestLoggers(app: Express, logger: Logger): void {
  const own = (req: Request, log: Logger) => Object.defineProperty(req, 'log', { value: log, writable: true, configurable: true, enumerable: true });
  Object.defineProperty(app.request, 'log', {
    configurable: true,
    get(this: Request) {
      const log = logger.child({ request_id: this.id });
      own(this, log);
      return log;
    },
    set(this: Request, log: Logger) {
      own(this, log);
    },
  });
}

/** The one HTTP app shape every service shares: ids, logs, security headers, bodies, health, request metrics, problems. */
export function createHttpApp(options: HttpAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', parseTrustProxy(options.trustProxy));
  app.set('query parser', 'simple');
  requestLoggers(app, options.logger);
  app.use(requestIdMiddleware);
  app.use(accessLog(options.logger));
  app.use(helmet());
  app.use(options.metrics.middleware);
  app.use(operationalRoutes(options.service, options.readiness));
  const limit = options.bodyLimit ?? '100kb';
  if (limit !== false) {
    const { rawBodyPrefix } = options;
    // body-parser calls `type` with the request Express has already extended (`is`)
    const parses = (types: string[]) => (req: unknown) => {
      const request = req as Request;
      return !(rawBodyPrefix && request.path.startsWith(rawBodyPrefix)) && Boolean(request.is(types));
    };
    app.use(express.json({ limit, type: parses(['application/json', 'application/*+json']) }));
    app.use(express.urlencoded({ limit, extended: false, type: parses(['application/x-www-form-urlencoded']) }));
  }
  if (options.api) {
    const { info, routers } = options.api;
    const document = buildOpenApiDocument(info, routers);
    app.get('/openapi.json', (_req, res) => {
      res.json(document);
    });
    for (const router of routers) app.use(router.router);
  }
  options.routes?.(app);
  app.use(notFoundHandler);
  const { errorMap } = options;
  if (errorMap) app.use((err: unknown, _req: Request, _res: Response, next: NextFunction) => next(errorMap(err)));
  app.use(problemErrorHandler());
  return app;
}
