import type { Express } from 'express';
import type { WebhookGatewayConfig } from '@saas/config';
import { createServiceApp, type ServiceRuntime } from '@saas/runtime';
import { integrationRoutes } from './integrations/routes';
import { webhookRoutes } from './webhooks/routes';

export function buildWebhookApp(runtime: ServiceRuntime<WebhookGatewayConfig>): Express {
  return createServiceApp(runtime, {
    bodyLimit: runtime.config.WEBHOOK_MAX_BODY_BYTES,
    api: {
      info: { title: 'webhook-gateway', version: '1.0.0', description: 'Signed webhook ingestion and integration data' },
      routers: [webhookRoutes(runtime), integrationRoutes(runtime)],
    },
  });
}
