import type { ChannelWrapper } from 'amqp-connection-manager';
import type { OutboxEventRow } from '@saas/db';
import { HEADERS, type IntegrationMessage } from './message';
import { routingKey } from './topology';

export interface PublishOutcome {
  confirmed: string[];
  failed: { id: string; error: Error }[];
}

/**
 * Publishes one event to the events exchange as docs/MESSAGING.md "Messages" describes it: persistent, `messageId` =
 * the stored event's id, JSON body, retry counter 0. Resolves when the broker confirms. The channel buffers while
 * disconnected, so the timeout bounds the wait (a timed-out message also leaves the buffer) and the outbox relay owns
 * the recovery.
 */
export function publishIntegrationEvent(
  channel: ChannelWrapper,
  exchange: string,
  event: OutboxEventRow,
  options: { timeoutMs: number; retryAttempt?: number },
): Promise<unknown> {
  const body: IntegrationMessage = {
    webhook_event_id: event.id,
    org_id: event.org_id,
    service: event.service,
    event_type: event.event_type,
    event_id: event.event_id,
  };
  return channel.publish(exchange, routingKey(event.service, event.event_type), Buffer.from(JSON.stringify(body)), {
    persistent: true,
    messageId: event.id,
    contentType: 'application/json',
    type: event.event_type,
    timestamp: Math.floor(Date.now() / 1000),
    headers: {
      [HEADERS.retryAttempt]: options.retryAttempt ?? 0,
      [HEADERS.requestId]: event.request_id ?? event.id,
      [HEADERS.orgId]: event.org_id,
    },
    timeout: options.timeoutMs,
  });
}

/**
 * Publishes a group of events at once and waits for all their confirms together: the confirm channel pipelines
 * them, so a group costs about one broker round trip instead of one per event. `retryAttemptOf` gives each message
 * its retry counter (default 0: a first delivery).
 */
export async function publishIntegrationEvents<E extends OutboxEventRow>(
  channel: ChannelWrapper,
  exchange: string,
  events: E[],
  options: { timeoutMs: number; retryAttemptOf?: (event: E) => number },
): Promise<PublishOutcome> {
  const { timeoutMs, retryAttemptOf } = options;
  const settled = await Promise.allSettled(
    events.map((event) => publishIntegrationEvent(channel, exchange, event, { timeoutMs, retryAttempt: retryAttemptOf?.(event) })),
  );
  const outcome: PublishOutcome = { confirmed: [], failed: [] };
  settled.forEach((result, i) => {
    if (result.status === 'fulfilled') outcome.confirmed.push(events[i].id);
    else outcome.failed.push({ id: events[i].id, error: result.reason as Error });
  });
  return outcome;
}
