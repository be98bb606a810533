import Redis from 'ioredis';
import { Gauge } from 'prom-client';
import { configureAuditCheckpoints } from '@saas/audit';
import type { ServiceConfig } from '@saas/config';
import { Database } from '@saas/db';
import { createLogger, createMetrics, flushLogger, type Logger, type ReadinessChecks, type ServiceMetrics } from '@saas/http';
import { connectBroker, type Broker, type BrokerOptions } from '@saas/messaging';

/** The connections and instruments one service process owns; closed in reverse order on shutdown. */
export interface ServiceRuntime<C extends ServiceConfig = ServiceConfig> {
  service: string;
  config: C;
  logger: Logger;
  metrics: ServiceMetrics;
  db: Database;
  redis: Redis;
  broker: Broker;
  readiness: ReadinessChecks;
  close(): Promise<void>;
}

export interface RuntimeOptions<C extends ServiceConfig> {
  service: string;
  config: C;
  logger?: Logger;
  /** Consumers and extra declarations on each (re)connected channel. */
  brokerSetup?: BrokerOptions['setup'];
}

export function createRedis(url: string): Redis {
  return new Redis(url, {
    // Commands fail fast while Redis is down instead of queueing without bound; callers decide open or closed.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    lazyConnect: false,
    // The commands of one event-loop turn go as one pipeline: one socket write and one wake-up instead of one per
    // command (the webhook rate limit's checks of concurrent requests: the write was the largest single cost of a
    // webhook in a profile).
    enableAutoPipelining: true,
  });
}

/** A service's connections and instruments, from its config; the process's audit checkpoint keys are set from it too. */
export function createRuntime<C extends ServiceConfig>(options: RuntimeOptions<C>): ServiceRuntime<C> {
  const { config, service } = options;
  configureAuditCheckpoints(config);
  const logger = options.logger ?? createLogger(service, config.LOG_LEVEL);
  const metrics = createMetrics(service);
  const db = new Database({ url: config.DATABASE_URL, poolMax: config.DATABASE_POOL_MAX, applicationName: service });
  const redis = createRedis(config.REDIS_URL);
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis error'));
  const broker = connectBroker({
    url: config.RABBITMQ_URL,
    logger,
    prefix: config.RABBITMQ_NAME_PREFIX,
    maxRetries: config.MAX_RETRIES,
    backoffBase: config.RETRY_BACKOFF_BASE,
    deliveryLimit: config.QUEUE_DELIVERY_LIMIT,
    quorumGroupSize: config.RABBITMQ_QUORUM_GROUP_SIZE,
    setup: options.brokerSetup,
  });
  registerPoolMetric(db, metrics);
  registerBrokerNodeMetric(broker, metrics);
  const readiness: ReadinessChecks = {
    postgres: () => db.ping(),
    redis: () => redis.ping(),
    rabbitmq: async () => {
      if (!broker.isConnected()) throw new Error('not connected');
    },
  };
  return {
    service,
    config,
    logger,
    metrics,
    db,
    redis,
    broker,
    readiness,
    close: async () => {
      await broker.close().catch((err) => logger.warn({ err }, 'broker close failed'));
      redis.disconnect();
      await db.close();
      // log lines are written in batches (libs/http logger): the last ones before the process exits
      await flushLogger(logger);
    },
  };
}

/** The broker node this process is connected to, read at scrape time: a failover shows as the series moving to another node. */
function registerBrokerNodeMetric(broker: Broker, metrics: ServiceMetrics): void {
  new Gauge({
    name: 'rabbitmq_connected_node',
    help: 'The RabbitMQ node (host:port) this process is connected to: 1 on its series, no series while disconnected',
    labelNames: ['node'],
    registers: [metrics.registry],
    collect() {
      this.reset();
      const node = broker.connectedNode();
      if (node) this.set({ node }, 1);
    },
  });
}

interface PoolStats {
  using: number;
  available: number;
  waiting: number;
}

/** Connection-pool saturation, read at scrape time: `used` near DATABASE_POOL_MAX with `waiting` > 0 means a starved pool. */
function registerPoolMetric(db: Database, metrics: ServiceMetrics): void {
  new Gauge({
    name: 'db_pool_connections',
    help: 'PostgreSQL pool connections by state (used, idle, waiting requests)',
    labelNames: ['state'],
    registers: [metrics.registry],
    collect() {
      const pool = (db.sequelize.connectionManager as unknown as { pool?: PoolStats }).pool;
      if (!pool) return;
      this.set({ state: 'used' }, pool.using);
      this.set({ state: 'idle' }, pool.available);
      this.set({ state: 'waiting' }, pool.waiting);
    },
  });
}
