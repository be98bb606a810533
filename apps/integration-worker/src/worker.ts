import { randomUUID } from 'node:crypto';
import type { IntegrationWorkerConfig } from '@saas/config';
import { invalidateTokenState } from '@saas/auth';
import {
  QueueConsumer,
  removeCircuitReport,
  reportCircuitState,
  SERVICES,
  StrandedRetryRelay,
  type CircuitState,
  type IntegrationService,
} from '@saas/messaging';
import type { ServiceRuntime } from '@saas/runtime';
import { ServiceBreakers } from './breakers';
import { CIRCUIT_STATE_VALUE, createWorkerMetrics } from './metrics';
import { EventLoader } from './event-loader';
import { EventProcessor } from './processor';
import { SimulatedProvider, type ProviderAdapter } from './providers';

/** Syncs of one organization committed (and events read) together at most (see GroupCommitter, EventLoader). */
const GROUP_COMMIT_MAX = 100;

/** How often each worker re-announces its circuits (reports expire when a worker disappears). */
const CIRCUIT_REPORT_INTERVAL_MS = 10_000;

export interface Worker {
  consumers: Record<IntegrationService, QueueConsumer>;
  breakers: ServiceBreakers;
  strandedRetries: StrandedRetryRelay;
  /** Stops consuming, lets in-flight deliveries finish, withdraws this worker's circuit reports. */
  close(): Promise<void>;
}

export interface WorkerOptions {
  /** Replaces the simulated providers (a real provider client, or a test double of an external system). */
  providers?: ProviderAdapter[];
}

/**
 * Consumes the three service queues (one consumer each: a failing provider never blocks the others), with manual
 * acks and WORKER_PREFETCH unacked deliveries per queue. A provider's open circuit pauses its queue's consumer;
 * half-open resumes it. The stranded-retry relay republishes retries the broker lost (StrandedRetryRelay).
 */
export async function startWorker(runtime: ServiceRuntime<IntegrationWorkerConfig>, options: WorkerOptions = {}): Promise<Worker> {
  const { config, logger, broker, redis } = runtime;
  const instance = randomUUID();
  const metrics = createWorkerMetrics(runtime.metrics.registry, broker.channel, broker.names);
  const consumers = {} as Record<IntegrationService, QueueConsumer>;
  // A setup that fails on a dying connection is retried on the next one; it must not crash the process.
  broker.channel.on('error', (err: Error) => logger.warn({ err: err.message }, 'rabbitmq channel error'));

  const report = (service: IntegrationService, state: CircuitState) =>
    reportCircuitState(redis, config.REDIS_KEY_PREFIX, service, instance, state).catch((err) =>
      logger.warn({ err: err.message, service }, 'circuit state not shared'),
    );
  const onStateChange = (service: IntegrationService, state: CircuitState) => {
    logger.warn({ service, circuit: state }, 'provider circuit changed');
    metrics.circuitState.set({ service }, CIRCUIT_STATE_VALUE[state]);
    void report(service, state);
    const consumer = consumers[service];
    if (!consumer || stopping) return;
    (state === 'open' ? consumer.pause() : consumer.resume()).catch((err) => logger.error({ err, service }, 'consumer state change failed'));
  };

  let stopping = false;
  const providers = options.providers ?? SERVICES.map((service) => new SimulatedProvider(service, config));
  const breakers = new ServiceBreakers(config, providers, onStateChange);
  const processor = new EventProcessor({
    db: runtime.db,
    channel: broker.channel,
    names: broker.names,
    policy: { maxRetries: config.MAX_RETRIES, backoffBase: config.RETRY_BACKOFF_BASE },
    deliveryLimit: config.QUEUE_DELIVERY_LIMIT,
    breakers,
    metrics,
    loader: new EventLoader(runtime.db, GROUP_COMMIT_MAX),
    maxGroup: GROUP_COMMIT_MAX,
    logger,
    onTokensRevoked: async (userIds) => {
      for (const userId of userIds) await invalidateTokenState(redis, config.REDIS_KEY_PREFIX, userId);
    },
  });

  for (const service of SERVICES) {
    metrics.circuitState.set({ service }, CIRCUIT_STATE_VALUE.closed);
    consumers[service] = new QueueConsumer({
      channel: broker.channel,
      queue: broker.names.serviceQueue(service),
      prefetch: config.WORKER_PREFETCH,
      logger,
      handler: (message) => processor.handle(service, message),
    });
    await consumers[service].resume();
  }
  const strandedRetries = new StrandedRetryRelay({
    db: runtime.db,
    broker,
    logger,
    strandedAfterMs: config.STRANDED_RETRY_AFTER_MS,
    // a few looks per period: an event is republished at most a fifth of the period late
    intervalMs: Math.min(30_000, Math.max(1_000, Math.round(config.STRANDED_RETRY_AFTER_MS / 5))),
    onRepublished: (count) => metrics.retriesRepublished.inc(count),
  });
  strandedRetries.start();
  const announce = () => Promise.all(SERVICES.map((service) => report(service, breakers.state(service))));
  // Redis may still be connecting (commands fail fast meanwhile): announce again as soon as it is ready.
  redis.on('ready', () => void announce());
  if (redis.status === 'ready') await announce();
  const heartbeat = setInterval(() => void announce(), CIRCUIT_REPORT_INTERVAL_MS);
  heartbeat.unref();

  return {
    consumers,
    breakers,
    strandedRetries,
    close: async () => {
      stopping = true;
      clearInterval(heartbeat);
      await strandedRetries.stop();
      await Promise.all(SERVICES.map((service) => consumers[service].pause().catch(() => undefined)));
      breakers.shutdown();
      await Promise.all(SERVICES.map((service) => consumers[service].drain()));
      await Promise.all(SERVICES.map((service) => removeCircuitReport(redis, config.REDIS_KEY_PREFIX, service, instance).catch(() => undefined)));
    },
  };
}
