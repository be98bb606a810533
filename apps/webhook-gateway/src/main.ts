import { configSchemas, type WebhookGatewayConfig } from '@saas/config';
import { startServer } from '@saas/http';
import { createRuntime, runService } from '@saas/runtime';
import { buildWebhookApp } from './app';

runService<WebhookGatewayConfig>('webhook-gateway', configSchemas['webhook-gateway'], async (config) => {
  const runtime = createRuntime({ service: 'webhook-gateway', config });
  const { port } = await startServer(buildWebhookApp(runtime), config.WEBHOOK_GATEWAY_PORT, {
    logger: runtime.logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    onShutdown: runtime.close,
  });
  runtime.logger.info({ port }, 'webhook-gateway listening');
});
