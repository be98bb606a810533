import type { Express } from 'express';
import { createHttpApp } from '@saas/http';
import type { IdentityServiceConfig } from '@saas/config';
import type { ServiceRuntime } from '@saas/runtime';

export function buildIdentityApp(runtime: ServiceRuntime<IdentityServiceConfig>): Express {
  return createHttpApp({
    service: runtime.service,
    logger: runtime.logger,
    metrics: runtime.metrics,
    trustProxy: runtime.config.TRUST_PROXY,
    readiness: runtime.readiness,
  });
}
