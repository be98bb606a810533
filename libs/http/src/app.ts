import express, { type Express } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
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
  /** The service's declared API; mounted, and described at `GET /openapi.json`. */
  api?: { info: OpenApiInfo; routers: ApiRouter[] };
  /** Mounts anything else (e.g. a proxy) between the common middleware and the 404/error handlers. */
  routes?: (app: Express) => void;
}

export function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** The one HTTP app shape every service shares: ids, logs, security headers, bodies, health, metrics, problems. */
export function createHttpApp(options: HttpAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', parseTrustProxy(options.trustProxy));
  app.set('query parser', 'simple');
  app.use(requestIdMiddleware);
  app.use(
    pinoHttp({
      logger: options.logger,
      genReqId: (req) => (req as express.Request).id as string,
      customAttributeKeys: { reqId: 'request_id' },
      autoLogging: { ignore: (req) => QUIET_PATHS.has(req.url ?? '') },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    }),
  );
  app.use(helmet());
  app.use(options.metrics.middleware);
  app.use(operationalRoutes(options.service, options.readiness, options.metrics.registry));
  const limit = options.bodyLimit ?? '100kb';
  if (limit !== false) {
    app.use(
      express.json({
        limit,
        type: ['application/json', 'application/*+json'],
        verify: (req, _res, buf) => {
          (req as express.Request).rawBody = buf;
        },
      }),
    );
    app.use(express.urlencoded({ limit, extended: false }));
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
  app.use(problemErrorHandler());
  return app;
}
