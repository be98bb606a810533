import { randomBytes } from 'node:crypto';
// The per-run isolation that Jest runs use (own database migrated by its owner, own services role, Redis key prefix,
// RabbitMQ name prefix, JWT key pair), reused outside Jest.
import { setupTestRun, teardownTestRun } from '../../libs/testing/src/test-run';

export interface BenchWorld {
  runId: string;
  /** The environment every service of this run starts with (also applied to process.env). */
  env: Record<string, string>;
  teardown(): Promise<void>;
}

const whsec = () => `whsec_${randomBytes(24).toString('base64')}`;

/**
 * An isolated world for one bench run, configured as production would be (NODE_ENV=production, so development
 * secrets are refused and replaced by random ones), logging at `info` like a deployment. `overrides` win.
 * BENCH_KEEP_DATABASE=1 keeps the database after the run for inspection.
 */
export async function createBenchWorld(overrides: Record<string, string | number | boolean> = {}): Promise<BenchWorld> {
  await setupTestRun();
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    LOG_LEVEL: process.env['BENCH_LOG_LEVEL'] ?? 'info',
    BCRYPT_COST: process.env['BENCH_BCRYPT_COST'] ?? '12',
    SUPERADMIN_EMAIL: `superadmin-${process.env['TEST_RUN_ID']}@bench.test`,
    SUPERADMIN_PASSWORD: `Bench-${randomBytes(9).toString('base64url')}`,
    WEBHOOK_SECRET_USER_SERVICE: whsec(),
    WEBHOOK_SECRET_PAYMENT_SERVICE: whsec(),
    WEBHOOK_SECRET_COMMUNICATION_SERVICE: whsec(),
    INTEGRATION_SECRETS_KEY: randomBytes(32).toString('base64'),
    // A bench sends far more than a provider would from one address.
    WEBHOOK_RATE_LIMIT_COUNT: '100000000',
    ...Object.fromEntries(Object.entries(overrides).map(([k, v]) => [k, String(v)])),
  };
  Object.assign(process.env, env);
  const all = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
  return {
    runId: process.env['TEST_RUN_ID']!,
    env: all,
    teardown: async () => {
      if (process.env['BENCH_KEEP_DATABASE']) process.env['KEEP_TEST_DATABASE'] = '1';
      await teardownTestRun();
    },
  };
}
