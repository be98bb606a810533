import { configSchemas, type ApiGatewayConfig } from '@saas/config';
import { createLogger, createMetrics, flushLogger, startServer } from '@saas/http';
import { runService } from '@saas/runtime';
import { buildGatewayApp } from './app';

runService<ApiGatewayConfig>('api-gateway', configSchemas['api-gateway'], async (config) => {
  const logger = createLogger('api-gateway', config.LOG_LEVEL);
  const app = buildGatewayApp({ config, logger, metrics: createMetrics('api-gateway') });
  const { port } = await startServer(app, config.API_GATEWAY_PORT, {
    logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    onShutdown: () => flushLogger(logger),
  });
  logger.info({ port }, 'api-gateway listening');
});
