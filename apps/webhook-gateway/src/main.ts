import { configSchemas, type WebhookGatewayConfig } from '@saas/config';
import { startServer } from '@saas/http';
import { createRuntime, listenOptions, runService } from '@saas/runtime';
import { buildWebhookApp } from './app';
import { createWebhookComponents } from './webhooks/components';

runService<WebhookGatewayConfig>('webhook-gateway', configSchemas['webhook-gateway'], async (config) => {
  const runtime = createRuntime({ service: 'webhook-gateway', config });
  const components = createWebhookComponents(runtime);
  const { pipeline, relay } = components;
  // A failed channel setup is retried on the next connection; without a listener it would crash the process.
  runtime.broker.channel.on('error', (err) => runtime.logger.error({ err }, 'rabbitmq channel error'));
  const { port, metricsPort } = await startServer(buildWebhookApp(runtime, components), config.WEBHOOK_GATEWAY_PORT, {
    ...listenOptions('webhook-gateway', config, runtime.metrics.registry),
    logger: runtime.logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    onShutdown: async () => {
      // In-flight requests have been answered; finish their publishes, stop the relay, then close connections.
      await relay.stop();
      await pipeline.drain();
      await runtime.close();
    },
  });
  relay.start();
  runtime.logger.info({ port, metricsPort }, 'webhook-gateway listening');
});
