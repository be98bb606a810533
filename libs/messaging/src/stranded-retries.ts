import type { Logger } from 'pino';
import { claimStrandedRetries, touchRepublishedRetries, type Database } from '@saas/db';
import type { Broker } from './connection';
import { PassLoop } from './pass-loop';
import { publishIntegrationEvents } from './publisher';

export interface StrandedRetryRelayOptions {
  db: Database;
  broker: Broker;
  logger: Logger;
  /** A `retrying` event with no newer attempt for this long is republished (STRANDED_RETRY_AFTER_MS). */
  strandedAfterMs: number;
  /** Pause between passes when the last one found nothing more to do. */
  intervalMs: number;
  /** Events claimed per pass. */
  batchSize?: number;
  /** How long a pass waits for its confirms before leaving the rest to the next pass. */
  publishTimeoutMs?: number;
  /** Called with the number of events republished by a pass. */
  onRepublished?: (count: number) => void;
}

/**
 * The retry ladder's safety net. A failed attempt's retry waits in a delay queue whose expiry dead-letters it back
 * to the events exchange; at-least-once dead-lettering keeps it safe while the queue's nodes live, yet when a node of
 * a cluster dies a few retries in flight never come back (the cluster-failover fault scenario saw 15 of 72 in one run
 * on RabbitMQ 3.10; RabbitMQ issue #16652 reports stranded dead-letter workers on 4.2 too). The database knows which:
 * the event is still `retrying` and nothing touched it since. Such events are republished straight to the events
 * exchange with their retry counter (the ladder goes on where it stopped), and their `updated_at` is touched so the
 * next look waits another period.
 *
 * A retry that was only slow (a long queue) and arrives after all does no harm: every attempt locks the event row
 * and a finished event is acknowledged without effect, so at worst the provider sees one call more. Safe with several
 * workers: each pass claims its rows `FOR UPDATE SKIP LOCKED` (skipping events an attempt holds) until they are
 * confirmed and touched.
 */
export class StrandedRetryRelay {
  private readonly loop: PassLoop;

  constructor(private readonly options: StrandedRetryRelayOptions) {
    this.loop = new PassLoop('stranded-retry relay', () => this.pass(), options.intervalMs, options.logger);
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One pass; resolves true when it filled a whole batch (more may be waiting). */
  async pass(): Promise<boolean> {
    const { db, broker, logger, strandedAfterMs } = this.options;
    const batchSize = this.options.batchSize ?? 500;
    if (!broker.isConnected()) return false;
    let full = false;
    // Cross-organization by nature (the retries of every tenant), hence a system transaction.
    const republished = await db.asSystem('stranded-retry relay', async (transaction) => {
      const rows = await claimStrandedRetries(transaction, strandedAfterMs / 1000, batchSize);
      if (!rows.length) return [];
      full = rows.length === batchSize;
      const outcome = await publishIntegrationEvents(broker.channel, broker.names.eventsExchange, rows, {
        timeoutMs: this.options.publishTimeoutMs ?? 10000,
        // `attempts` failed attempts so far, each of which scheduled a retry: this copy is retry number `attempts`
        retryAttemptOf: (row) => row.attempts,
      });
      if (outcome.failed.length) {
        full = false;
        logger.warn({ failed: outcome.failed.length, err: outcome.failed[0]?.error.message }, 'stranded-retry relay: some publishes were not confirmed');
      }
      if (outcome.confirmed.length) await touchRepublishedRetries(transaction, outcome.confirmed);
      return outcome.confirmed;
    });
    if (republished.length) {
      logger.warn(
        { republished: republished.length, webhook_event_ids: republished.slice(0, 20), stranded_after_ms: strandedAfterMs },
        'retries that never came back from the delay queues were republished',
      );
      this.options.onRepublished?.(republished.length);
    }
    return full;
  }
}
