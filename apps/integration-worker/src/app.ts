import type { Express } from 'express';
import type { IntegrationWorkerConfig } from '@saas/config';
import { createServiceApp, type ServiceRuntime } from '@saas/runtime';

export function buildWorkerApp(runtime: ServiceRuntime<IntegrationWorkerConfig>): Express {
  return createServiceApp(runtime);
}
