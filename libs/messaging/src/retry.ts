import type { ChannelWrapper } from 'amqp-connection-manager';
import type { ConsumeMessage, MessagePropertyHeaders } from 'amqplib';
import { retryDelayMs } from '@saas/config';
import { HEADERS } from './message';
import { RETRY_DELAY_HEADER, type TopologyNames } from './topology';

/** Header naming why a message was dead-lettered by the worker (the broker's own x-death stays untouched). */
export const DEAD_LETTER_REASON_HEADER = 'x-dead-letter-reason';

export interface RetryPolicy {
  maxRetries: number;
  /** Seconds; retry n waits base × 2^(n−1). */
  backoffBase: number;
}

export type FailureDecision =
  | { kind: 'retry'; retry: number; delayMs: number }
  | { kind: 'dead_letter'; reason: 'permanent' | 'retries_exhausted' };

/** Our own retry counter (0 on first delivery); `x-death` is never consulted. */
export function retryAttemptOf(message: Pick<ConsumeMessage, 'properties'>): number {
  const value = Number(message.properties.headers?.[HEADERS.retryAttempt] ?? 0);
  return Number.isInteger(value) && value >= 0 ? value : 0;
}

/** After a failure of delivery `retriesSoFar` (0-based): the next rung of the ladder, or the dead-letter queue. */
export function decideFailure(policy: RetryPolicy, retriesSoFar: number, permanent: boolean): FailureDecision {
  if (permanent) return { kind: 'dead_letter', reason: 'permanent' };
  if (retriesSoFar >= policy.maxRetries) return { kind: 'dead_letter', reason: 'retries_exhausted' };
  const retry = retriesSoFar + 1;
  return { kind: 'retry', retry, delayMs: retryDelayMs(policy.backoffBase, retry) };
}

/** Headers carried over to a republished copy: ours and the caller's, not the broker's dead-lettering bookkeeping. */
function carriedHeaders(headers: MessagePropertyHeaders | undefined): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(headers ?? {}).filter(([name]) => name !== 'x-death' && !name.startsWith('x-first-death') && !name.startsWith('x-last-death')),
  );
}

function republishOptions(message: ConsumeMessage, headers: Record<string, unknown>) {
  return {
    persistent: true,
    messageId: message.properties.messageId,
    contentType: message.properties.contentType ?? 'application/json',
    headers: { ...carriedHeaders(message.properties.headers), ...headers },
  };
}

/**
 * Sends a copy to the retry exchange, which routes it by delay header to the matching TTL queue; that queue
 * dead-letters it back to the events exchange under the original routing key. Resolves once confirmed.
 */
export async function publishRetry(channel: ChannelWrapper, names: TopologyNames, message: ConsumeMessage, retry: number, delayMs: number): Promise<void> {
  if (!names.retryDelays.includes(delayMs)) throw new Error(`no retry queue for a delay of ${delayMs} ms`);
  await channel.publish(
    names.retryExchange,
    message.fields.routingKey,
    message.content,
    republishOptions(message, { [HEADERS.retryAttempt]: retry, [RETRY_DELAY_HEADER]: delayMs }),
  );
}

/** Sends a copy to the dead-letter exchange with the reason; resolves once confirmed. */
export async function publishDeadLetter(channel: ChannelWrapper, names: TopologyNames, message: ConsumeMessage, reason: string): Promise<void> {
  await channel.publish(
    names.deadLetterExchange,
    message.fields.routingKey,
    message.content,
    republishOptions(message, { [DEAD_LETTER_REASON_HEADER]: reason.slice(0, 500) }),
  );
}
