import { execFileSync } from 'node:child_process';
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
 * A RabbitMQ user of the run's own with a random password: production refuses `guest`. rabbitmqctl, as the test
 * runs' teardown uses; removed with `deleteBrokerUser`.
 */
function createBrokerUser(name: string): string {
  const password = randomBytes(12).toString('base64url');
  execFileSync('rabbitmqctl', ['-q', 'add_user', name, password], { stdio: 'ignore' });
  execFileSync('rabbitmqctl', ['-q', 'set_permissions', '-p', '/', name, '.*', '.*', '.*'], { stdio: 'ignore' });
  return password;
}

const deleteBrokerUser = (name: string) => execFileSync('rabbitmqctl', ['-q', 'delete_user', name], { stdio: 'ignore' });

/**
 * An isolated world for one bench run, configured as production would be (NODE_ENV=production, so development
 * secrets and passwords are refused and replaced by random ones: a broker user of the run's own, a Redis password —
 * the local Redis has none, which ioredis tolerates with a warning), logging at `info` like a deployment. `overrides` win.
 * BENCH_KEEP_DATABASE=1 keeps the database after the run for inspection.
 */
export async function createBenchWorld(overrides: Record<string, string | number | boolean> = {}): Promise<BenchWorld> {
  await setupTestRun();
  const brokerUser = `bench-${process.env['TEST_RUN_ID']}`;
  const brokerPassword = createBrokerUser(brokerUser);
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
    AUDIT_CHECKPOINT_KEY: randomBytes(32).toString('base64'),
    RABBITMQ_URL: `amqp://${brokerUser}:${brokerPassword}@127.0.0.1:5672`,
    REDIS_URL: `redis://:${randomBytes(12).toString('base64url')}@127.0.0.1:6379`,
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
      deleteBrokerUser(brokerUser);
    },
  };
}
