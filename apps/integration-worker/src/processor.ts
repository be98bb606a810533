import type { ChannelWrapper } from 'amqp-connection-manager';
import type { ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import { appendAuditEntries, type AuditEntryInput } from '@saas/audit';
import { eventsUpdate, isUuid, lockEventsForUpdate, type AttemptRecord, type Database, type EventChange, type EventRow, type Transaction, type WebhookEventStatus } from '@saas/db';
import {
  decideFailure,
  HEADERS,
  publishDeadLetter,
  publishRetry,
  retryAttemptOf,
  type Disposition,
  type IntegrationMessage,
  type IntegrationService,
  type RetryPolicy,
  type TopologyNames,
} from '@saas/messaging';
import { ShuttingDownError, type ServiceBreakers } from './breakers';
import { errorMessage, isPermanent } from './errors';
import type { EventLoader } from './event-loader';
import { GroupCommitter } from './group-commit';
import type { WorkerMetrics } from './metrics';
import { SYNCERS, type SyncResult } from './sync';

const FINISHED: WebhookEventStatus[] = ['processed', 'skipped', 'failed'];

/** Users first: the subscriptions and messages of a group link to the users the same group creates. */
const SYNC_ORDER: IntegrationService[] = ['user_service', 'payment_service', 'communication_service'];

export interface ProcessorDeps {
  db: Database;
  channel: ChannelWrapper;
  names: TopologyNames;
  policy: RetryPolicy;
  /** QUEUE_DELIVERY_LIMIT: past it the broker would dead-letter the message behind our back. */
  deliveryLimit: number;
  breakers: ServiceBreakers;
  metrics: WorkerMetrics;
  /** Reads the events of deliveries in batches (see EventLoader). */
  loader: EventLoader;
  /** Deliveries of one organization applied in one transaction at most (see GroupCommitter). */
  maxGroup: number;
  logger: Logger;
  /** After a commit that revoked tokens: drop the users' cached token state. */
  onTokensRevoked: (userIds: string[]) => Promise<void>;
}

interface Delivery {
  service: IntegrationService;
  message: ConsumeMessage;
  body: IntegrationMessage;
  /** Retries already spent (the x-retry-attempt header). */
  retries: number;
  requestId: string | null;
  log: Logger;
}

function parseBody(message: ConsumeMessage): IntegrationMessage | null {
  try {
    const body = JSON.parse(message.content.toString('utf8')) as Partial<IntegrationMessage>;
    return isUuid(body.webhook_event_id) && isUuid(body.org_id) ? (body as IntegrationMessage) : null;
  } catch {
    return null;
  }
}

type ApplyResult = SyncResult | 'already_finished';

/** The event row after one more attempt: its status, attempt count and history with that attempt's entry. */
function attemptChange(event: EventRow, status: 'processed' | 'skipped' | 'retrying' | 'failed', at: Date, entry: Partial<AttemptRecord> = {}): EventChange {
  return {
    id: event.id,
    status,
    attempts: event.attempts + 1,
    history: [...(event.history ?? []), { attempt: event.attempts + 1, at: at.toISOString(), outcome: status, ...entry }],
  };
}

/**
 * Handles one delivery of an integration message (docs/MESSAGING.md "Consuming"): provider call through its breaker,
 * then the sync, the event's status and the audit entry in one transaction (the event row locked FOR UPDATE, so
 * concurrent deliveries of one event never both apply it), then the ack. Failures go up the retry ladder or to dead
 * letters.
 */
export class EventProcessor {
  private readonly committer: GroupCommitter<Delivery, ApplyResult>;

  constructor(private readonly deps: ProcessorDeps) {
    this.committer = new GroupCommitter(deps.db, deps.maxGroup, (tx, deliveries) => this.apply(tx, deliveries));
  }

  async handle(service: IntegrationService, message: ConsumeMessage): Promise<Disposition> {
    const stop = this.deps.metrics.processingSeconds.startTimer({ service });
    try {
      return await this.handleDelivery(service, message);
    } finally {
      stop();
    }
  }

  private async handleDelivery(service: IntegrationService, message: ConsumeMessage): Promise<Disposition> {
    const headers = message.properties.headers ?? {};
    const requestId = typeof headers[HEADERS.requestId] === 'string' ? (headers[HEADERS.requestId] as string) : null;
    const body = parseBody(message);
    if (!body) {
      this.deps.logger.error({ service, request_id: requestId, message_id: message.properties.messageId }, 'malformed message dead-lettered');
      await publishDeadLetter(this.deps.channel, this.deps.names, message, 'malformed message');
      this.deps.metrics.failed.inc({ service, reason: 'permanent' });
      return 'ack';
    }
    const retries = retryAttemptOf(message);
    const log = this.deps.logger.child({ request_id: requestId, webhook_event_id: body.webhook_event_id, org_id: body.org_id, service, event_type: body.event_type, retry: retries });
    const delivery: Delivery = { service, message, body, retries, requestId, log };

    // The broker counts redeliveries (a consumer that crashed or was cut off mid-message) and drops the message to
    // the dead letters once the count passes the limit, which would leave its event `queued` for ever. At the last
    // chance the worker dead-letters it itself instead, so the event is `failed`, audited and replayable.
    const redeliveries = Number(headers['x-delivery-count'] ?? 0);
    if (redeliveries >= this.deps.deliveryLimit) {
      const reason = `delivered ${redeliveries + 1} times without an outcome (delivery limit ${this.deps.deliveryLimit})`;
      await publishDeadLetter(this.deps.channel, this.deps.names, message, reason);
      await this.record(delivery, 'failed', reason);
      this.deps.metrics.failed.inc({ service, reason: 'delivery_limit' });
      log.error({ redeliveries }, 'event dead-lettered at the delivery limit');
      return 'ack';
    }

    let event: EventRow | null;
    try {
      event = await this.deps.loader.load(body.org_id, body.webhook_event_id);
    } catch (err) {
      return this.fail(delivery, err);
    }
    if (!event) {
      log.warn('no such webhook event; message dropped');
      return 'ack';
    }
    if (FINISHED.includes(event.status)) {
      log.info({ status: event.status }, 'event already finished; redelivery acknowledged');
      return 'ack';
    }

    try {
      await this.deps.breakers.call({ service, eventId: event.event_id, eventType: event.event_type, call: event.attempts + 1, payload: event.payload });
    } catch (err) {
      if (err instanceof ShuttingDownError) return 'requeue';
      return this.fail(delivery, err);
    }

    let result: ApplyResult;
    try {
      result = await this.committer.submit(body.org_id, delivery);
    } catch (err) {
      return this.fail(delivery, err);
    }
    if (result === 'already_finished') {
      log.info('event finished concurrently; redelivery acknowledged');
      return 'ack';
    }
    if (result.outcome === 'processed' && result.revokedUserIds?.length) {
      await this.deps.onTokensRevoked(result.revokedUserIds).catch((err) => log.warn({ err }, 'token state invalidation failed; the cache expires by itself'));
    }
    this.deps.metrics.processed.inc({ service, outcome: result.outcome });
    if (result.outcome === 'processed') {
      this.deps.metrics.receiptToProcessedSeconds.observe({ service }, (Date.now() - event.received_at.getTime()) / 1000);
    }
    log.info({ outcome: result.outcome, attempt: event.attempts + 1 }, 'event synced');
    return 'ack';
  }

  /**
   * The syncs of a group of deliveries of one organization, their events' new statuses and their audit entries, in
   * one transaction: the events are locked together, each service's events are synced together in delivery order
   * (per-entity order holds; users first, so the group's subscriptions and messages link to the users it creates),
   * then one statement stores every status and one appends every audit entry.
   */
  private async apply(tx: Transaction, deliveries: Delivery[]): Promise<ApplyResult[]> {
    const events = await lockEventsForUpdate(tx, [...new Set(deliveries.map((d) => d.body.webhook_event_id))]);
    const results: ApplyResult[] = deliveries.map(() => 'already_finished');
    const toSync = new Map<IntegrationService, { index: number; event: EventRow; requestId: string | null }[]>();
    deliveries.forEach((delivery, index) => {
      const event = events.get(delivery.body.webhook_event_id);
      if (!event || FINISHED.includes(event.status)) return;
      // a second delivery of this event in the same group finds it finished
      events.delete(event.id);
      toSync.set(delivery.service, [...(toSync.get(delivery.service) ?? []), { index, event, requestId: delivery.requestId }]);
    });
    const changes: EventChange[] = [];
    const audits: AuditEntryInput[] = [];
    const now = new Date();
    for (const service of SYNC_ORDER) {
      const batch = toSync.get(service) ?? [];
      if (!batch.length) continue;
      const synced = await SYNCERS[service](
        tx,
        batch.map(({ event }) => ({ event, data: (event.payload?.['data'] ?? {}) as Record<string, unknown> })),
      );
      for (const [i, { index, event, requestId }] of batch.entries()) {
        const result = synced[i];
        if (!result) throw new Error(`the ${service} syncer returned no result for event ${event.id}`);
        results[index] = result;
        // last_error stays: an event that succeeded after retries still tells what went wrong before
        changes.push({ ...attemptChange(event, result.outcome, now, result.outcome === 'skipped' ? { error: result.reason } : {}), processed_at: now });
        if (result.outcome === 'processed') {
          for (const entry of result.audits) {
            audits.push({
              orgId: event.org_id,
              actorType: 'system',
              actorId: 'integration-worker',
              action: entry.action,
              targetType: entry.targetType,
              targetId: entry.targetId,
              requestId,
              metadata: { ...entry.metadata, webhook_event_id: event.id, event_id: event.event_id, event_type: event.event_type },
            });
          }
        }
      }
    }
    // the statuses go in the round trip of the audit chain's lock
    await appendAuditEntries(tx, audits, changes.length ? { withWrite: eventsUpdate(changes) } : {});
    return results;
  }

  /** A failed attempt: the next rung of the retry ladder, or — permanent or out of retries — the dead letters. */
  private async fail(delivery: Delivery, err: unknown): Promise<Disposition> {
    const { service, message, log } = delivery;
    const reason = errorMessage(err);
    const decision = decideFailure(this.deps.policy, delivery.retries, isPermanent(err));
    if (decision.kind === 'retry') {
      await this.record(delivery, 'retrying', reason, decision.delayMs);
      await publishRetry(this.deps.channel, this.deps.names, message, decision.retry, decision.delayMs);
      this.deps.metrics.retried.inc({ service });
      log.warn({ err: reason, next_retry: decision.retry, delay_ms: decision.delayMs }, 'attempt failed; retry scheduled');
      return 'ack';
    }
    await publishDeadLetter(this.deps.channel, this.deps.names, message, reason);
    await this.record(delivery, 'failed', reason);
    this.deps.metrics.failed.inc({ service, reason: decision.reason });
    log.error({ err: reason, reason: decision.reason }, 'event dead-lettered');
    return 'ack';
  }

  /**
   * Stores the failed attempt (and, when final, the dead-letter audit entry). A database that is down must not stop
   * the message from moving along the ladder: the failure is logged and the message still goes on.
   */
  private async record(delivery: Delivery, status: 'retrying' | 'failed', reason: string, delayMs?: number): Promise<void> {
    const { body } = delivery;
    try {
      await this.deps.db.forOrg(body.org_id, async (tx) => {
        const event = (await lockEventsForUpdate(tx, [body.webhook_event_id])).get(body.webhook_event_id);
        if (!event || FINISHED.includes(event.status)) return;
        const change = { ...attemptChange(event, status, new Date(), { error: reason, ...(delayMs ? { delay_ms: delayMs } : {}) }), last_error: reason };
        const deadLettered: AuditEntryInput[] =
          status === 'failed'
            ? [
                {
                  orgId: event.org_id,
                  actorType: 'system',
                  actorId: 'integration-worker',
                  action: 'integration.event.dead_lettered',
                  targetType: 'webhook_event',
                  targetId: event.id,
                  requestId: delivery.requestId,
                  metadata: { event_id: event.event_id, event_type: event.event_type, service: event.service, attempts: event.attempts + 1, reason },
                },
              ]
            : [];
        await appendAuditEntries(tx, deadLettered, { withWrite: eventsUpdate([change]) });
      });
    } catch (err) {
      delivery.log.error({ err: errorMessage(err) }, 'could not record the failed attempt');
    }
  }
}
