import type { Express } from 'express';
import type { ServiceConfig } from '@saas/config';
import { createHttpApp, type HttpAppOptions } from '@saas/http';
import type { ServiceRuntime } from './runtime';

/** The HTTP app of a backing-service-connected service: the runtime's logger, metrics, trust and readiness, plus its API. */
export function createServiceApp(runtime: ServiceRuntime<ServiceConfig>, options: Pick<HttpAppOptions, 'api' | 'bodyLimit' | 'rawBodyPrefix' | 'errorMap'> = {}): Express {
  return createHttpApp({
    service: runtime.service,
    logger: runtime.logger,
    metrics: runtime.metrics,
    trustProxy: runtime.config.TRUST_PROXY,
    readiness: runtime.readiness,
    ...options,
  });
}
