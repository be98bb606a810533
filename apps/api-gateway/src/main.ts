import { configSchemas, type ApiGatewayConfig } from '@saas/config';
import { createLogger, createMetrics, flushLogger, startServer } from '@saas/http';
import { listenOptions, runService } from '@saas/runtime';
import { buildGatewayApp } from './app';

runService<ApiGatewayConfig>('api-gateway', configSchemas['api-gateway'], async (config) => {
  const logger = createLogger('api-gateway', config.LOG_LEVEL);
  const metrics = createMetrics('api-gateway');
  const app = buildGatewayApp({ config, logger, metrics });
  const { port, metricsPort } = await startServer(app, config.API_GATEWAY_PORT, {
    ...listenOptions('api-gateway', config, metrics.registry),
    logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    onShutdown: () => flushLogger(logger),
  });
  logger.info({ port, metricsPort }, 'api-gateway listening');
});
