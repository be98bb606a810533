import { configSchemas, type IntegrationWorkerConfig } from '@saas/config';
import { startServer } from '@saas/http';
import { createRuntime, listenOptions, runService } from '@saas/runtime';
import { buildWorkerApp } from './app';
import { startWorker } from './worker';

runService<IntegrationWorkerConfig>('integration-worker', configSchemas['integration-worker'], async (config) => {
  const runtime = createRuntime({ service: 'integration-worker', config });
  const worker = await startWorker(runtime);
  const { port, metricsPort } = await startServer(buildWorkerApp(runtime), config.INTEGRATION_WORKER_PORT, {
    ...listenOptions('integration-worker', config, runtime.metrics.registry),
    logger: runtime.logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    // SIGTERM: stop consuming and finish in-flight deliveries before the connections close.
    onShutdown: async () => {
      await worker.close();
      await runtime.close();
    },
  });
  runtime.logger.info({ port, metricsPort }, 'integration-worker listening');
});
