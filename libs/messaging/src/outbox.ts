import { QueryTypes } from 'sequelize';
import type { Logger } from 'pino';
import type { Database, Transaction } from '@saas/db';
import type { Broker } from './connection';
import { publishIntegrationEvents, type PublishableEvent } from './publisher';

/**
 * The `webhook_events` table doubles as a transactional outbox (DESIGN §4): a row is committed with
 * `published_at IS NULL`, and is marked once the broker confirmed its message. Rows left unmarked (broker down,
 * publish timed out, process crashed between commit and confirm) are republished by the relay.
 */

// The rows are locked in id order, the order in which the worker locks a group's events: with the UPDATE's own
// (arbitrary) order, a mark and a worker group holding rows of each other deadlocked, and PostgreSQL broke the tie
// only after deadlock_timeout (1 s), failing one side (bench/worker: receipt → processed p99 ~1.5 s).
const MARK_PUBLISHED_SQL = `
  UPDATE webhook_events AS e
     SET published_at = now(),
         status = CASE WHEN e.status = 'received' THEN 'queued' ELSE e.status END,
         updated_at = now()
    FROM (SELECT id FROM webhook_events WHERE id = ANY($1::uuid[]) AND published_at IS NULL ORDER BY id FOR UPDATE) AS locked
   WHERE e.id = locked.id`;

/**
 * Marks confirmed events published (and `queued` unless the worker already moved them on). The mark commits without
 * waiting for its WAL flush (`synchronous_commit = off`): losing it in a crash only means the relay publishes those
 * events once more (delivery is at-least-once and consumers are idempotent), while the events themselves were
 * committed durably before they were published.
 */
export async function markPublished(db: Database, ids: string[], tx?: Transaction): Promise<void> {
  if (!ids.length) return;
  const run = async (transaction: Transaction) => {
    await db.sequelize.query('SET LOCAL synchronous_commit = off', { transaction });
    await db.sequelize.query(MARK_PUBLISHED_SQL, { bind: [ids], transaction });
  };
  // Cross-organization by nature: one confirm group holds events of many organizations.
  if (tx) await run(tx);
  else await db.asSystem('outbox: mark published', run);
}

/**
 * Coalesces the marks of many confirm groups into few UPDATEs: one runs at a time, and whatever was confirmed
 * meanwhile goes into the next. `mark` resolves once its ids are marked.
 */
export class PublishedMarker {
  private pending: { ids: string[]; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private running = false;

  constructor(private readonly db: Database) {}

  mark(ids: string[]): Promise<void> {
    if (!ids.length) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.pending.push({ ids, resolve, reject });
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    while (this.pending.length) {
      const batch = this.pending.splice(0, this.pending.length);
      try {
        await markPublished(this.db, batch.flatMap((b) => b.ids));
        batch.forEach((b) => b.resolve());
      } catch (err) {
        batch.forEach((b) => b.reject(err));
      }
    }
    this.running = false;
  }
}

/** Events committed but not confirmed (the outbox backlog). */
export async function outboxBacklog(db: Database): Promise<number> {
  const row = await db.asSystem('outbox: backlog', (transaction) =>
    db.sequelize.query<{ n: number }>('SELECT count(*)::int AS n FROM webhook_events WHERE published_at IS NULL', {
      type: QueryTypes.SELECT,
      plain: true,
      transaction,
    }),
  );
  return row?.n ?? 0;
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
 * Republishes committed-but-unconfirmed events. Safe with several replicas: each pass claims its rows with
 * `FOR UPDATE SKIP LOCKED` and holds them until their confirms are in and they are marked, so two relays never
 * publish the same row in the same pass.
 */
export class OutboxRelay {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(private readonly options: OutboxRelayOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.pass()
        .then((more) => this.schedule(more ? 0 : this.options.intervalMs))
        .catch((err) => {
          this.options.logger.warn({ err }, 'outbox relay pass failed');
          this.schedule(this.options.intervalMs);
        });
    }, delayMs);
  }

  /** One pass; resolves true when it filled a whole batch (more may be waiting). */
  async pass(): Promise<boolean> {
    const { db, broker, logger, minAgeMs } = this.options;
    const batchSize = this.options.batchSize ?? 500;
    let full = false;
    if (broker.isConnected()) {
      // Cross-organization by nature (the outbox of every tenant), hence a system transaction.
      const relayed = await db.asSystem('outbox relay', async (transaction) => {
        const rows = await db.sequelize.query<PublishableEvent>(
          `SELECT id, org_id, service, event_type, event_id, request_id
             FROM webhook_events
            WHERE published_at IS NULL AND updated_at < now() - make_interval(secs => $1)
            ORDER BY updated_at
            LIMIT $2
              FOR UPDATE SKIP LOCKED`,
          { bind: [minAgeMs / 1000, batchSize], type: QueryTypes.SELECT, transaction },
        );
        if (!rows.length) return 0;
        full = rows.length === batchSize;
        const outcome = await publishIntegrationEvents(broker.channel, broker.names.eventsExchange, rows, {
          timeoutMs: this.options.publishTimeoutMs ?? 10000,
        });
        await markPublished(db, outcome.confirmed, transaction);
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
