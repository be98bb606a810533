import { configSchemas, type IntegrationWorkerConfig } from '@saas/config';
import { startServer } from '@saas/http';
import { createRuntime, runService } from '@saas/runtime';
import { buildWorkerApp } from './app';

runService<IntegrationWorkerConfig>('integration-worker', configSchemas['integration-worker'], async (config) => {
  const runtime = createRuntime({ service: 'integration-worker', config });
  const { port } = await startServer(buildWorkerApp(runtime), config.INTEGRATION_WORKER_PORT, {
    logger: runtime.logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    onShutdown: runtime.close,
  });
  runtime.logger.info({ port }, 'integration-worker listening');
});
