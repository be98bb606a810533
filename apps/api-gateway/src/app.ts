import cors from 'cors';
import type { Express } from 'express';
import type { ApiGatewayConfig } from '@saas/config';
import { createHttpApp, type Logger, type ReadinessChecks, type ServiceMetrics } from '@saas/http';
import { docsRouter, DOCS_PATH, OPENAPI_PATH } from './docs';
import { openApiHandler } from './openapi';
import { proxyTo } from './proxy';
import { routedBy, upstreams } from './routes';

const API_VERSION = '1.0.0';

export interface GatewayDeps {
  config: ApiGatewayConfig;
  logger: Logger;
  metrics: ServiceMetrics;
}

async function upstreamReady(base: string): Promise<void> {
  const res = await fetch(new URL('/readyz', base), { signal: AbortSignal.timeout(1500) });
  if (!res.ok) throw new Error(`${res.status} from ${base}`);
}

export function buildGatewayApp({ config, logger, metrics }: GatewayDeps): Express {
  const services = upstreams(config);
  const readiness: ReadinessChecks = Object.fromEntries(services.map((u) => [u.name, () => upstreamReady(u.url)]));
  const origins = config.CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean);
  return createHttpApp({
    service: 'api-gateway',
    logger,
    metrics,
    trustProxy: config.TRUST_PROXY,
    readiness,
    bodyLimit: false,
    routes: (app) => {
      app.use(
        cors({
          origin: origins.includes('*') ? true : origins,
          exposedHeaders: ['x-request-id', 'retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'],
          credentials: false,
        }),
      );
      app.get(OPENAPI_PATH, openApiHandler({ upstreams: services, logger, version: API_VERSION }));
      app.use(DOCS_PATH, docsRouter());
      for (const upstream of services) {
        if (upstream.prefixes.length) app.use(proxyTo({ target: upstream.url, routes: (path) => routedBy(upstream.prefixes, path), logger }));
      }
    },
  });
}
