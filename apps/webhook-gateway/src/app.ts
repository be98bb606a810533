import type { Express } from 'express';
import { createAuthenticator } from '@saas/auth';
import type { WebhookGatewayConfig } from '@saas/config';
import { createServiceApp, type ServiceRuntime } from '@saas/runtime';
import { integrationRoutes } from './integrations/routes';
import { sourceRoutes } from './sources/routes';
import type { WebhookComponents } from './webhooks/components';
import { webhookRoutes } from './webhooks/routes';

// main.ts and tests build the components and hand them in: one set per process, nothing cached behind a call
export { createWebhookComponents } from './webhooks/components';

export function buildWebhookApp(runtime: ServiceRuntime<WebhookGatewayConfig>, components: WebhookComponents): Express {
  const { config, db, redis } = runtime;
  const authenticate = createAuthenticator({ config, db, redis });
  const { secrets, sources } = components;
  return createServiceApp(runtime, {
    bodyLimit: config.WEBHOOK_MAX_BODY_BYTES,
    // signed webhooks: rate limit, raw body, signature, and only then JSON (docs/WEBHOOKS.md "Bounded work")
    rawBodyPrefix: '/webhooks/',
    api: {
      info: { title: 'webhook-gateway', version: '1.0.0', description: 'Signed webhook ingestion, integration sources and integration data' },
      routers: [webhookRoutes(runtime, components), sourceRoutes(runtime, secrets, sources, authenticate), integrationRoutes(runtime, authenticate)],
    },
  });
}
