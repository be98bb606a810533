import { configSchemas, type IntegrationWorkerConfig } from '@saas/config';
import { startServer } from '@saas/http';
import { createRuntime, runService } from '@saas/runtime';
import { buildWorkerApp } from './app';
import { startWorker } from './worker';

runService<IntegrationWorkerConfig>('integration-worker', configSchemas['integration-worker'], async (config) => {
  const runtime = createRuntime({ service: 'integration-worker', config });
  const worker = await startWorker(runtime);
  const { port } = await startServer(buildWorkerApp(runtime), config.INTEGRATION_WORKER_PORT, {
    logger: runtime.logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    // SIGTERM: stop consuming and finish in-flight deliveries before the connections close.
    onShutdown: async () => {
      await worker.close();
      await runtime.close();
    },
  });
  runtime.logger.info({ port }, 'integration-worker listening');
});
