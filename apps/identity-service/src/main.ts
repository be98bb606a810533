import { configSchemas, type IdentityServiceConfig } from '@saas/config';
import { startServer } from '@saas/http';
import { createRuntime, listenOptions, runService } from '@saas/runtime';
import { buildIdentityApp } from './app';

runService<IdentityServiceConfig>('identity-service', configSchemas['identity-service'], async (config) => {
  const runtime = createRuntime({ service: 'identity-service', config });
  const { port, metricsPort } = await startServer(buildIdentityApp(runtime), config.IDENTITY_SERVICE_PORT, {
    ...listenOptions('identity-service', config, runtime.metrics.registry),
    logger: runtime.logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    onShutdown: runtime.close,
  });
  runtime.logger.info({ port, metricsPort }, 'identity-service listening');
});
