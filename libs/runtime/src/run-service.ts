import { ConfigError, loadConfig, type ListenConfig } from '@saas/config';
import { metricsPort, type AppName, type StartOptions } from '@saas/http';
import type { ObjectSchema } from 'joi';
import type { Registry } from 'prom-client';

/**
 * Entry-point wrapper: validates configuration (a bad variable exits 1 naming it) and reports a failed start
 * as one clear line instead of an unhandled rejection.
 */
export function runService<C>(name: string, schema: ObjectSchema, start: (config: C) => Promise<unknown>): void {
  let config: C;
  try {
    config = loadConfig<C>(schema);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  start(config).catch((err) => {
    process.stderr.write(`${name}: failed to start: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
}

/**
 * Where an app listens: its public port on BIND_ADDRESS, and `GET /metrics` on a listener of its own on
 * METRICS_BIND_ADDRESS, port METRICS_PORT + the app's offset (METRICS_PORT_OFFSETS).
 */
export function listenOptions(app: AppName, config: ListenConfig, registry: Registry): Pick<StartOptions, 'host' | 'metrics'> {
  return {
    host: config.BIND_ADDRESS,
    metrics: { registry, host: config.METRICS_BIND_ADDRESS, port: metricsPort(app, config.METRICS_PORT) },
  };
}
