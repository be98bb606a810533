import type { Express } from 'express';
import type { IntegrationWorkerConfig } from '@saas/config';
import { createServiceApp, type ServiceRuntime } from '@saas/runtime';

/** The worker has no API: its port answers /healthz and /readyz (probes, api-gateway's readiness); /metrics has a listener of its own. */
export function buildWorkerApp(runtime: ServiceRuntime<IntegrationWorkerConfig>): Express {
  return createServiceApp(runtime);
}
