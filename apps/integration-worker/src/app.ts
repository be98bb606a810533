import type { Express } from 'express';
import { createHttpApp } from '@saas/http';
import type { IntegrationWorkerConfig } from '@saas/config';
import type { ServiceRuntime } from '@saas/runtime';

export function buildWorkerApp(runtime: ServiceRuntime<IntegrationWorkerConfig>): Express {
  return createHttpApp({
    service: runtime.service,
    logger: runtime.logger,
    metrics: runtime.metrics,
    trustProxy: runtime.config.TRUST_PROXY,
    readiness: runtime.readiness,
  });
}
