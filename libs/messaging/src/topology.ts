import type { Channel, ConfirmChannel } from 'amqplib';

export const SERVICES = ['user_service', 'payment_service', 'communication_service'] as const;
export type IntegrationService = (typeof SERVICES)[number];

export interface TopologyOptions {
  /** Prepended to every exchange and queue name; empty in production, per-run in tests. */
  prefix: string;
  maxRetries: number;
  /** Seconds; retry n waits base × 2^(n−1). */
  backoffBase: number;
  /** Quorum-queue redeliveries before a message that keeps crashing consumers is dead-lettered. */
  deliveryLimit: number;
}

/** Retry n (1-based) waits RETRY_BACKOFF_BASE × 2^(n−1) seconds, in whole milliseconds. */
export function retryDelayMs(base: number, retry: number): number {
  return Math.max(1, Math.round(base * 1000 * 2 ** (retry - 1)));
}

export function topologyNames(options: Pick<TopologyOptions, 'prefix' | 'maxRetries' | 'backoffBase'>) {
  const p = options.prefix;
  const delays = [...new Set(Array.from({ length: options.maxRetries }, (_, i) => retryDelayMs(options.backoffBase, i + 1)))];
  return {
    eventsExchange: `${p}integration.events`,
    deadLetterExchange: `${p}integration.dlx`,
    deadLetterQueue: `${p}integration.dead`,
    retryExchange: `${p}integration.retry`,
    serviceQueue: (service: IntegrationService) => `${p}integration.${service}`,
    retryQueue: (delayMs: number) => `${p}integration.retry.${delayMs}`,
    retryDelays: delays,
  };
}

export type TopologyNames = ReturnType<typeof topologyNames>;

/** Routing key of an event: `<service>.<event_type>`, e.g. `payment_service.payment.failed`. */
export function routingKey(service: IntegrationService, eventType: string): string {
  return `${service}.${eventType}`;
}

/**
 * Header the retry exchange (type headers) routes on, to the delay queue of that many milliseconds.
 * Not `x-` prefixed: RabbitMQ's headers exchange ignores `x-` headers when matching.
 */
export const RETRY_DELAY_HEADER = 'retry-delay-ms';

/**
 * Declares DESIGN §5's topology idempotently. Re-declaring with the same arguments is a no-op; the delays are in
 * the retry queues' names, so changing RETRY_BACKOFF_BASE declares new queues instead of clashing with old ones.
 */
export async function declareTopology(channel: Channel | ConfirmChannel, options: TopologyOptions): Promise<TopologyNames> {
  const names = topologyNames(options);
  await channel.assertExchange(names.eventsExchange, 'topic', { durable: true });
  await channel.assertExchange(names.deadLetterExchange, 'topic', { durable: true });
  await channel.assertExchange(names.retryExchange, 'headers', { durable: true });

  await channel.assertQueue(names.deadLetterQueue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await channel.bindQueue(names.deadLetterQueue, names.deadLetterExchange, '#');

  for (const service of SERVICES) {
    const queue = names.serviceQueue(service);
    await channel.assertQueue(queue, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-delivery-limit': options.deliveryLimit,
        'x-dead-letter-exchange': names.deadLetterExchange,
      },
    });
    await channel.bindQueue(queue, names.eventsExchange, `${service}.#`);
  }

  for (const delay of names.retryDelays) {
    const queue = names.retryQueue(delay);
    await channel.assertQueue(queue, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-message-ttl': delay,
        // No x-dead-letter-routing-key: expired messages go back with their original routing key.
        'x-dead-letter-exchange': names.eventsExchange,
        'x-dead-letter-strategy': 'at-least-once',
        'x-overflow': 'reject-publish',
      },
    });
    await channel.bindQueue(queue, names.retryExchange, '', { 'x-match': 'all', [RETRY_DELAY_HEADER]: delay });
  }
  return names;
}
