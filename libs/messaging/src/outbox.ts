import type { Logger } from 'pino';
import { claimUnpublishedEvents, markEventsPublished, outboxBacklog, type Database } from '@saas/db';
import type { Broker } from './connection';
import { PassLoop } from './pass-loop';
import { publishIntegrationEvents } from './publisher';

/**
 * The transactional outbox (docs/MESSAGING.md "The transactional outbox"): `webhook_outbox` holds one narrow row per
 * event that is committed but not yet confirmed by the broker, written in the event's own transaction
 * (`OUTBOX_INSERT`, or `returnEventsToOutbox` for a replay) and deleted once the broker confirmed the message. Rows left
 * over (broker down, publish timed out, process crashed between commit and confirm) are republished by the relay. An
 * event is `queued` once it has left the outbox (`eventStatusSql`); the event row itself is not rewritten for that
 * (libs/db migration 0007 says why).
 */

// The outbox's statements are in @saas/db (libs/db/src/access/webhook-events.ts); here: the relay and the marker.

/**
 * Coalesces the marks of many confirm groups into few DELETEs: a mark waits up to `windowMs` for others to join it,
 * one DELETE runs at a time, and whatever was confirmed meanwhile goes into the next. Under a moderate, steady load
 * a group holds one or two events, so without the window every event would cost a DELETE round trip of its own; the
 * window must stay well under the relay's minimum age, or the relay would republish rows about to be marked.
 * `mark` resolves once its ids are marked.
 */
export class PublishedMarker {
  private pending: { ids: string[]; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly db: Database,
    private readonly windowMs = 0,
  ) {}

  mark(ids: string[]): Promise<void> {
    if (!ids.length) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.pending.push({ ids, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setTimeout(() => void this.run(), this.windowMs);
      }
    });
  }

  private async run(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending.splice(0, this.pending.length);
      try {
        await markEventsPublished(this.db, batch.flatMap((b) => b.ids));
        batch.forEach((b) => b.resolve());
      } catch (err) {
        batch.forEach((b) => b.reject(err));
      }
    }
    this.scheduled = false;
  }
}

export interface OutboxRelayOptions {
  db: Database;
  broker: Broker;
  logger: Logger;
  /** Pause between passes when the last one found nothing more to do. */
  intervalMs: number;
  /** Only rows older than this are republished, so the normal publish path is not raced. */
  minAgeMs: number;
  /** Rows claimed per pass. */
  batchSize?: number;
  /** How long a pass waits for its confirms before leaving the rest to the next pass. */
  publishTimeoutMs?: number;
  /** Called after each pass with the current backlog (for a gauge). */
  onBacklog?: (backlog: number) => void;
  /** Called with the number of events republished by a pass. */
  onRelayed?: (count: number) => void;
}

/**
 * Republishes committed-but-unconfirmed events. Safe with several replicas: each pass claims its outbox rows with
 * `FOR UPDATE SKIP LOCKED` and holds them until their confirms are in and they are deleted, so two relays never
 * publish the same row in the same pass.
 */
export class OutboxRelay {
  private readonly loop: PassLoop;

  constructor(private readonly options: OutboxRelayOptions) {
    this.loop = new PassLoop('outbox relay', () => this.pass(), options.intervalMs, options.logger);
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One pass; resolves true when it filled a whole batch (more may be waiting). */
  async pass(): Promise<boolean> {
    const { db, broker, logger, minAgeMs } = this.options;
    const batchSize = this.options.batchSize ?? 500;
    let full = false;
    if (broker.isConnected()) {
      // Cross-organization by nature (the outbox of every tenant), hence a system transaction.
      const relayed = await db.asSystem('outbox relay', async (transaction) => {
        const rows = await claimUnpublishedEvents(transaction, minAgeMs / 1000, batchSize);
        if (!rows.length) return 0;
        full = rows.length === batchSize;
        const outcome = await publishIntegrationEvents(broker.channel, broker.names.eventsExchange, rows, {
          timeoutMs: this.options.publishTimeoutMs ?? 10000,
        });
        await markEventsPublished(db, outcome.confirmed, transaction);
        if (outcome.failed.length) {
          logger.warn({ failed: outcome.failed.length, err: outcome.failed[0].error.message }, 'outbox relay: some publishes were not confirmed');
          full = false;
        }
        return outcome.confirmed.length;
      });
      if (relayed) {
        logger.info({ relayed }, 'outbox relay republished events');
        this.options.onRelayed?.(relayed);
      }
    }
    this.options.onBacklog?.(await outboxBacklog(db));
    return full;
  }
}
