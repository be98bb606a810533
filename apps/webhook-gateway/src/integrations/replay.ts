import type { Logger } from 'pino';
import { appendAudit } from '@saas/audit';
import {
  lockDeadLetters,
  markEventRequeued,
  markEventsPublished,
  returnEventsToOutbox,
  type AttemptRecord,
  type Database,
  type DeadLetterFilter,
  type Transaction,
  type WebhookEvent,
} from '@saas/db';
import { publishIntegrationEvents, type Broker } from '@saas/messaging';

export interface ReplayActor {
  userId: string;
  requestId: string | null;
  ip: string | null;
}

export interface ReplayDeps {
  db: Database;
  broker: Broker;
  logger: Logger;
  publishTimeoutMs: number;
}

/** Events re-enqueued per transaction by a bulk replay. */
const BATCH = 500;

/**
 * Puts failed events back in the queue (docs/MESSAGING.md "Replay"): status `queued`, a `replayed` history entry and an
 * `integration.event.replayed` audit entry commit together, with the event back in the outbox;
 * the messages go out after the commit with a fresh retry budget. Should the publish not be confirmed, the outbox
 * relay sends them later, so a replay is never lost.
 */
export async function requeueLocked(tx: Transaction, events: WebhookEvent[], actor: ReplayActor, bulk: boolean): Promise<void> {
  await returnEventsToOutbox(tx, events);
  for (const event of events) {
    const entry: AttemptRecord = { attempt: event.attempts, at: new Date().toISOString(), outcome: 'replayed' };
    await markEventRequeued(tx, event, entry);
    await appendAudit(tx, {
      orgId: event.org_id,
      actorType: 'user',
      actorId: actor.userId,
      action: 'integration.event.replayed',
      targetType: 'webhook_event',
      targetId: event.id,
      requestId: actor.requestId,
      ip: actor.ip,
      metadata: { event_id: event.event_id, event_type: event.event_type, service: event.service, attempts: event.attempts, bulk },
    });
  }
}

export async function publishReplayed(deps: ReplayDeps, events: WebhookEvent[], requestId: string | null): Promise<void> {
  const publishable = events.map((e) => ({ id: e.id, org_id: e.org_id, service: e.service, event_type: e.event_type, event_id: e.event_id, request_id: requestId ?? e.request_id }));
  const outcome = await publishIntegrationEvents(deps.broker.channel, deps.broker.names.eventsExchange, publishable, { timeoutMs: deps.publishTimeoutMs });
  if (outcome.failed.length) deps.logger.warn({ failed: outcome.failed.length }, 'replayed events left to the outbox relay');
  await markEventsPublished(deps.db, outcome.confirmed).catch((err) => deps.logger.warn({ err }, 'replayed events not marked published; the relay will resend them'));
}

/** Bulk replay in batches; each batch's rows are claimed with SKIP LOCKED so concurrent replays never double up. */
export async function replayDeadLetters(
  deps: ReplayDeps,
  scope: (work: (tx: Transaction) => Promise<WebhookEvent[]>) => Promise<WebhookEvent[]>,
  orgScope: string | null,
  filter: DeadLetterFilter,
  actor: ReplayActor,
): Promise<number> {
  let replayed = 0;
  for (;;) {
    const batch = await scope(async (tx) => {
      const events = await lockDeadLetters(tx, orgScope, filter, BATCH);
      await requeueLocked(tx, events, actor, true);
      return events;
    });
    if (!batch.length) return replayed;
    await publishReplayed(deps, batch, actor.requestId);
    replayed += batch.length;
    if (batch.length < BATCH) return replayed;
  }
}
