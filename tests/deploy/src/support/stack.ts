import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { Express } from 'express';
import { Webhook } from 'standardwebhooks';
import type { ApiGatewayConfig, IdentityServiceConfig, IntegrationWorkerConfig, ServiceConfig, WebhookGatewayConfig } from '@saas/config';
import { createLogger, createMetrics, createMetricsApp } from '@saas/http';
import { createRuntime, type ServiceRuntime } from '@saas/runtime';
import { startApp, testConfig, unique, type StartedApp } from '@saas/testing';
// The apps expose no library; the stack is assembled from their sources, as their own tests do.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { buildGatewayApp } from '../../../../apps/api-gateway/src/app';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { buildIdentityApp } from '../../../../apps/identity-service/src/app';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { buildWebhookApp, createWebhookComponents } from '../../../../apps/webhook-gateway/src/app';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { buildWorkerApp } from '../../../../apps/integration-worker/src/app';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { startWorker } from '../../../../apps/integration-worker/src/worker';

export interface RunningService {
  name: string;
  express: Express;
  server: StartedApp;
  /** Its metrics listener (GET /metrics), beside the public port as main.ts starts it. */
  metrics: StartedApp;
}

export interface Stack {
  identity: ServiceRuntime<IdentityServiceConfig> & { app: RunningService };
  webhooks: ServiceRuntime<WebhookGatewayConfig> & { app: RunningService };
  worker?: ServiceRuntime<IntegrationWorkerConfig> & { app: RunningService };
  gateway: StartedApp;
  gatewayMetrics: StartedApp;
  close(): Promise<void>;
}

async function runtimeOf<C extends ServiceConfig>(service: string, config: C): Promise<ServiceRuntime<C>> {
  const runtime = createRuntime({ service, config });
  // Closing a runtime while its channel is still being set up emits 'error' on the channel.
  runtime.broker.channel.on('error', () => undefined);
  if (runtime.redis.status !== 'ready') await Promise.race([once(runtime.redis, 'ready'), delay(2000)]);
  return runtime;
}

async function serve<C extends ServiceConfig>(runtime: ServiceRuntime<C>, express: Express, onShutdown: () => Promise<void>) {
  const metrics = await startApp(createMetricsApp(runtime.metrics.registry));
  return Object.assign(runtime, { app: { name: runtime.service, express, server: await startApp(express, onShutdown), metrics } });
}

/**
 * The platform in this process, as `npm start` runs it: identity-service, webhook-gateway, optionally the
 * integration worker (consuming), and api-gateway in front, each on an ephemeral port and its metrics listener on
 * another, on the test run's database, Redis prefix and RabbitMQ prefix.
 */
export async function startStack(
  options: { worker?: boolean; overrides?: Record<string, string | number | boolean>; workerOverrides?: Record<string, string | number | boolean> } = {},
): Promise<Stack> {
  const common = options.overrides ?? {};
  const identityRuntime = await runtimeOf('identity-service', testConfig<IdentityServiceConfig>('identity-service', common));
  const identity = await serve(identityRuntime, buildIdentityApp(identityRuntime), identityRuntime.close);
  const webhookRuntime = await runtimeOf('webhook-gateway', testConfig<WebhookGatewayConfig>('webhook-gateway', common));
  const webhooks = await serve(webhookRuntime, buildWebhookApp(webhookRuntime, createWebhookComponents(webhookRuntime)), webhookRuntime.close);
  let worker: Stack['worker'];
  if (options.worker) {
    const workerRuntime = await runtimeOf('integration-worker', testConfig<IntegrationWorkerConfig>('integration-worker', { ...common, ...options.workerOverrides }));
    const consumer = await startWorker(workerRuntime);
    worker = await serve(workerRuntime, buildWorkerApp(workerRuntime), async () => {
      await consumer.close();
      await workerRuntime.close();
    });
  }
  const config = testConfig<ApiGatewayConfig>('api-gateway', {
    IDENTITY_SERVICE_URL: identity.app.server.url,
    WEBHOOK_GATEWAY_URL: webhooks.app.server.url,
    INTEGRATION_WORKER_URL: (worker ?? webhooks).app.server.url,
  });
  const gatewayInstruments = createMetrics('api-gateway');
  const gateway = await startApp(buildGatewayApp({ config, logger: createLogger('api-gateway', 'silent'), metrics: gatewayInstruments }));
  const gatewayMetrics = await startApp(createMetricsApp(gatewayInstruments.registry));
  return {
    identity,
    webhooks,
    worker,
    gateway,
    gatewayMetrics,
    close: async () => {
      await Promise.all([gateway.close(), gatewayMetrics.close()]);
      for (const service of [worker, webhooks, identity]) if (service) await Promise.all([service.app.server.close(), service.app.metrics.close()]);
    },
  };
}

/** A signed user-service webhook (Standard Webhooks headers) for an organization, as a provider sends it. */
export function signedUserCreated(config: WebhookGatewayConfig, orgSlug: string) {
  const event = {
    event_id: unique('evt'),
    event_type: 'user.created',
    timestamp: new Date().toISOString(),
    organization_id: orgSlug,
    metadata: { source: 'user-service', version: '1.0' },
    data: { user_id: unique('hr'), email: `${unique('hr')}@example.test`, first_name: 'Grace' },
  };
  const body = JSON.stringify(event);
  const id = unique('msg');
  const secret = config.WEBHOOK_SECRET_USER_SERVICE.split(' ')[0];
  const now = new Date();
  const headers = {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, now, body),
  };
  return { event, body, headers };
}
