import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { Client } from 'pg';
import amqp from 'amqplib';
import Redis from 'ioredis';
// Global setup runs outside Jest's module mapping, so it reaches the db lib by path.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { ensureDatabase, runMigrations } from '../../db/src/migrate';

const ADMIN_BASE = process.env['TEST_DATABASE_ADMIN_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function withDatabase(url: string, database: string, user?: string, password?: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  if (user !== undefined) {
    u.username = user;
    u.password = password ?? '';
  }
  return u.toString();
}

/**
 * One isolated world per Jest run (each Nx project runs its own): a fresh database migrated by its owner,
 * a services role of its own, a Redis key prefix and a RabbitMQ name prefix. Exported through process.env,
 * which Jest's workers inherit.
 */
export async function setupTestRun(): Promise<void> {
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const database = `saas_test_${runId}`;
  const role = `saas_svc_${runId}`;
  const adminUrl = withDatabase(ADMIN_BASE, database);
  const serviceUrl = withDatabase(ADMIN_BASE, database, role, 'test-password');
  await ensureDatabase(adminUrl);
  await runMigrations({ adminUrl, serviceUrl });

  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  Object.assign(process.env, {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
    TEST_RUN_ID: runId,
    TEST_DATABASE_NAME: database,
    TEST_DATABASE_ROLE: role,
    DATABASE_URL: serviceUrl,
    DATABASE_ADMIN_URL: adminUrl,
    REDIS_KEY_PREFIX: `test:${runId}:`,
    RABBITMQ_NAME_PREFIX: `test.${runId}.`,
    JWT_PRIVATE_KEY: privateKey,
    JWT_PUBLIC_KEY: publicKey,
    BCRYPT_COST: '4',
    // apps a test spawns take free metrics ports: two runs at once never meet on 9100-9103
    METRICS_PORT: '0',
    ENV_FILE: '/nonexistent/.env',
  });
}

function rabbitNames(kind: 'queues' | 'exchanges', prefix: string): string[] {
  try {
    const out = execFileSync('rabbitmqctl', ['-q', `list_${kind}`, 'name', '--no-table-headers'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split('\n').map((l) => l.trim()).filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
}

export async function teardownTestRun(): Promise<void> {
  const database = process.env['TEST_DATABASE_NAME'];
  const role = process.env['TEST_DATABASE_ROLE'];
  if (!database || !role || process.env['KEEP_TEST_DATABASE']) return;

  const admin = new Client({ connectionString: ADMIN_BASE });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.query(`DROP ROLE IF EXISTS "${role}"`);
  } finally {
    await admin.end();
  }

  const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const prefix = process.env['REDIS_KEY_PREFIX'] ?? 'test:';
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } catch {
    // Redis being down must not fail the run's teardown.
  } finally {
    redis.disconnect();
  }

  const prefix = process.env['RABBITMQ_NAME_PREFIX'] ?? 'test.';
  for (const queue of rabbitNames('queues', prefix)) execFileSync('rabbitmqctl', ['-q', 'delete_queue', queue], { stdio: 'ignore' });
  await deleteExchanges(rabbitNames('exchanges', prefix));
}

/** rabbitmqctl cannot delete an exchange: over AMQP. A broker that is down must not fail the run's teardown. */
async function deleteExchanges(names: string[]): Promise<void> {
  if (!names.length) return;
  try {
    const connection = await amqp.connect(process.env['RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672');
    try {
      const channel = await connection.createChannel();
      for (const name of names) await channel.deleteExchange(name);
    } finally {
      await connection.close();
    }
  } catch {
    // left for the broker: exchanges hold no messages
  }
}
