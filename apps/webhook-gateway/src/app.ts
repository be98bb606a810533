import type { Express } from 'express';
import { createAuthenticator } from '@saas/auth';
import type { WebhookGatewayConfig } from '@saas/config';
import { createServiceApp, type ServiceRuntime } from '@saas/runtime';
import { integrationRoutes } from './integrations/routes';
import { sourceRoutes } from './sources/routes';
import { webhookComponents } from './webhooks/components';
import { webhookRoutes } from './webhooks/routes';

export function buildWebhookApp(runtime: ServiceRuntime<WebhookGatewayConfig>): Express {
  const { config, db, redis } = runtime;
  const authenticate = createAuthenticator({ config, db, redis });
  const { secrets, sources } = webhookComponents(runtime);
  return createServiceApp(runtime, {
    bodyLimit: config.WEBHOOK_MAX_BODY_BYTES,
    // signed webhooks: rate limit, raw body, signature, and only then JSON (docs/WEBHOOKS.md "Bounded work")
    rawBodyPrefix: '/webhooks/',
    api: {
      info: { title: 'webhook-gateway', version: '1.0.0', description: 'Signed webhook ingestion, integration sources and integration data' },
      routers: [webhookRoutes(runtime), sourceRoutes(runtime, secrets, sources, authenticate), integrationRoutes(runtime, authenticate)],
    },
  });
}
