import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib';
import { retryDelayMs } from '@saas/config';
import { INTEGRATION_SERVICES, type IntegrationService } from '@saas/contracts';

export type { IntegrationService };
/** One queue per service (libs/contracts INTEGRATION_SERVICES). */
export const SERVICES = INTEGRATION_SERVICES;

export interface TopologyOptions {
  /** Prepended to every exchange and queue name; empty in production, per-run in tests. */
  prefix: string;
  maxRetries: number;
  /** Seconds; retry n waits base × 2^(n−1). */
  backoffBase: number;
  /** Quorum-queue redeliveries before a message that keeps crashing consumers is dead-lettered. */
  deliveryLimit: number;
  /** Members a new quorum queue starts with (RABBITMQ_QUORUM_GROUP_SIZE); absent, the broker's default. */
  quorumGroupSize?: number;
}

/** Whether a queue exists already. */
export type QueueProbe = (queue: string) => Promise<boolean>;

/** Probes on a channel of their own: a check of a missing queue closes the channel it runs on. */
export function queueProbe(connection: ChannelModel): QueueProbe {
  return async (queue) => {
    const channel = await connection.createChannel();
    // the 404 of a missing queue closes this channel, as expected; it is an answer, not a failure
    channel.on('error', () => undefined);
    try {
      await channel.checkQueue(queue);
    } catch (err) {
      if ((err as { code?: number }).code === 404) return false;
      throw err;
    }
    await channel.close();
    return true;
  };
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
 * Declares the topology of docs/MESSAGING.md "Topology" idempotently. Re-declaring with the same arguments is a no-op;
 * the delays are in the retry queues' names, so changing RETRY_BACKOFF_BASE declares new queues instead of clashing
 * with old ones.
 *
 * Every queue is a quorum queue (replicated to `quorumGroupSize` nodes), the delay and dead-letter queues too, so no
 * message lives on one node only. The group size only matters when a queue is created, yet RabbitMQ compares it on
 * every declaration: a queue created before it was set, or with another size, would refuse each redeclaration with
 * PRECONDITION_FAILED. So with a `queueExists` probe (the services pass one) existing queues are left as they are —
 * their members are managed with `rabbitmq-queues grow/shrink` (docs/SCALING.md) — and only missing ones are declared.
 * Without a probe every queue is declared (a fresh broker, or a recorder of the declarations).
 */
export async function declareTopology(
  channel: Channel | ConfirmChannel,
  options: TopologyOptions,
  queueExists?: QueueProbe,
): Promise<TopologyNames> {
  const names = topologyNames(options);
  const groupSize = options.quorumGroupSize === undefined ? {} : { 'x-quorum-initial-group-size': options.quorumGroupSize };
  const declareQuorumQueue = async (queue: string, args: Record<string, unknown>) => {
    if (await queueExists?.(queue)) return;
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum', ...groupSize, ...args } });
  };
  await channel.assertExchange(names.eventsExchange, 'topic', { durable: true });
  await channel.assertExchange(names.deadLetterExchange, 'topic', { durable: true });
  await channel.assertExchange(names.retryExchange, 'headers', { durable: true });

  await declareQuorumQueue(names.deadLetterQueue, {});
  await channel.bindQueue(names.deadLetterQueue, names.deadLetterExchange, '#');

  for (const service of SERVICES) {
    const queue = names.serviceQueue(service);
    await declareQuorumQueue(queue, {
      'x-delivery-limit': options.deliveryLimit,
      'x-dead-letter-exchange': names.deadLetterExchange,
    });
    await channel.bindQueue(queue, names.eventsExchange, `${service}.#`);
  }

  for (const delay of names.retryDelays) {
    const queue = names.retryQueue(delay);
    await declareQuorumQueue(queue, {
      'x-message-ttl': delay,
      // No x-dead-letter-routing-key: expired messages go back with their original routing key.
      'x-dead-letter-exchange': names.eventsExchange,
      // Expired messages leave the delay queue only once the events exchange's queues have them (at-least-once
      // dead-lettering, which needs reject-publish overflow): a node dying mid-way loses no retry.
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });
    await channel.bindQueue(queue, names.retryExchange, '', { 'x-match': 'all', [RETRY_DELAY_HEADER]: delay });
  }
  return names;
}
