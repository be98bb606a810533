import { ConfigError, loadConfig } from '@saas/config';
import type { ObjectSchema } from 'joi';

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
