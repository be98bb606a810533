import { Op, QueryTypes, literal, where as sqlWhere, type FindAttributeOptions, type ProjectionAlias, type WhereOptions } from 'sequelize';
import { INTEGRATION_SERVICES, type IntegrationService } from '@saas/contracts';
import type { Database, Transaction } from '../database';
import { WebhookEvent, type AttemptRecord } from '../models';
import { sql, sqlList, type SqlValue } from '../one-trip';
import { execute, selectRows } from '../raw-sql';
import { afterKeyset, keysetAttribute, timeRange, type KeysetCursor } from '../pagination';

// The webhook_events table and its outbox (webhook_outbox) as webhook-gateway and the messaging relays use them: the
// ingest INSERT, the outbox's claim/mark/backlog/return, the API's event reads and replays, the integration status,
// and the stranded-retry relay. The integration worker's statements on the same table are in webhook-event-attempts.

// ---------------------------------------------------------------------------------------------------------------
// The transactional outbox (docs/MESSAGING.md "The transactional outbox"; libs/messaging's outbox.ts runs the relay)

/** What publishing a stored event needs (`@saas/messaging` publishIntegrationEvent): a `webhook_events` row's columns. */
export interface OutboxEventRow {
  id: string;
  org_id: string;
  service: IntegrationService;
  event_type: string;
  event_id: string;
  request_id: string | null;
}

/** Puts the new events of a CTE `stored(id, org_id, inserted)` in the outbox: a data-modifying CTE of the INSERT. */
export const OUTBOX_INSERT = sql`INSERT INTO webhook_outbox (event_id, org_id) SELECT id, org_id FROM stored WHERE inserted`;

/** An event's status as the API shows it: a stored `received` is `queued` once the event has left the outbox. */
export const eventStatusSql = (eventAlias: string) =>
  `CASE WHEN ${eventAlias}.status = 'received' AND NOT EXISTS (SELECT 1 FROM webhook_outbox o WHERE o.event_id = ${eventAlias}.id) THEN 'queued' ELSE ${eventAlias}.status END`;

/** Puts events back in the outbox (a replay), in the caller's transaction: the relay waits from now. */
export async function returnEventsToOutbox(tx: Transaction, events: { id: string; org_id: string }[]): Promise<void> {
  if (!events.length) return;
  await execute(
    tx,
    `INSERT INTO webhook_outbox (event_id, org_id) SELECT * FROM unnest($1::uuid[], $2::uuid[])
     ON CONFLICT (event_id) DO UPDATE SET enqueued_at = now()`,
    [events.map((e) => e.id), events.map((e) => e.org_id)],
  );
}

/**
 * Takes confirmed events out of the outbox. The delete commits without waiting for its WAL flush
 * (`synchronous_commit = off`): losing it in a crash only means the relay publishes those events once more (delivery
 * is at-least-once and consumers are idempotent), while the events themselves were committed durably before they
 * were published. In `tx` when given (the relay's claim), else in one round trip of its own.
 */
export async function markEventsPublished(db: Database, ids: string[], tx?: Transaction): Promise<void> {
  if (!ids.length) return;
  // ids are the broker's confirms of messages we published with our own event ids (uuids)
  const statement = sql`DELETE FROM webhook_outbox WHERE event_id = ANY(ARRAY[${sqlList(ids)}]::uuid[])`;
  // Cross-organization by nature: one confirm group holds events of many organizations.
  if (tx) {
    await execute(tx, 'SET LOCAL synchronous_commit = off', []);
    await execute(tx, statement.text, []);
  } else {
    await db.writeAsSystem('outbox: mark published', statement, { durable: false });
  }
}

/** Events committed but not confirmed (the outbox backlog). */
export async function outboxBacklog(db: Database): Promise<number> {
  const row = await db.asSystem('outbox: backlog', (transaction) =>
    db.sequelize.query<{ n: number }>('SELECT count(*)::int AS n FROM webhook_outbox', {
      type: QueryTypes.SELECT,
      plain: true,
      transaction,
    }),
  );
  return row?.n ?? 0;
}

/**
 * The relay's claim, in its system transaction `tx`: up to `limit` outbox rows older than `minAgeSeconds` (so the
 * normal publish path is not raced), oldest first, with their events. `FOR UPDATE SKIP LOCKED` holds them until the
 * transaction ends, so two relays never publish the same row in the same pass.
 */
export function claimUnpublishedEvents(tx: Transaction, minAgeSeconds: number, limit: number): Promise<OutboxEventRow[]> {
  return selectRows<OutboxEventRow>(
    tx,
    `SELECT e.id, e.org_id, e.service, e.event_id, e.event_type, e.request_id
             FROM webhook_outbox o JOIN webhook_events e ON e.id = o.event_id
            WHERE o.enqueued_at < now() - make_interval(secs => $1)
            ORDER BY o.enqueued_at
            LIMIT $2
              FOR UPDATE OF o SKIP LOCKED`,
    [minAgeSeconds, limit],
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Ingest (webhook-gateway)

/** One validated event of a known, active organization, as the ingest statement stores it. */
export interface WebhookEventToStore {
  orgId: string;
  service: IntegrationService;
  /** The integration source that delivered it; null at a platform endpoint. */
  sourceId: string | null;
  eventId: string;
  eventType: string;
  timestamp: Date;
  /** The event as received (unknown fields included), serialized. */
  payloadJson: string;
  requestId: string;
}

/** A row of the ingest statement: the stored event (new or the original of a duplicate) and whether it is new. */
export type StoredWebhookEventRow = OutboxEventRow & { inserted: boolean };

// One statement per group: a multi-row INSERT of the events, and their outbox rows. Within a group every key appears
// once (repeats are folded into `dups`); a key already stored is counted as a duplicate on the original row.
// `xmax = 0` tells a fresh insert from an update; only fresh events enter the outbox. Values are escaped literals
// (`sql`): the statement goes out in one round trip with its context (`Database.writeAsSystem`).
const insertStatement = (rows: { item: WebhookEventToStore; dups: number }[]) => {
  const column = (value: (row: { item: WebhookEventToStore; dups: number }) => SqlValue) => sqlList(rows.map(value));
  return sql`
  WITH stored AS (
    INSERT INTO webhook_events AS e
           (org_id, service, source_id, event_id, event_type, event_timestamp, payload, request_id, duplicate_count, last_duplicate_at)
    SELECT t.org_id, t.service, t.source_id, t.event_id, t.event_type, t.event_timestamp, t.payload::jsonb, t.request_id, t.dups,
           CASE WHEN t.dups > 0 THEN now() END
      FROM unnest(ARRAY[${column((r) => r.item.orgId)}]::uuid[], ARRAY[${column((r) => r.item.service)}]::text[],
                  ARRAY[${column((r) => r.item.sourceId)}]::uuid[],
                  ARRAY[${column((r) => r.item.eventId)}]::text[], ARRAY[${column((r) => r.item.eventType)}]::text[],
                  ARRAY[${column((r) => r.item.timestamp.toISOString())}]::timestamptz[], ARRAY[${column((r) => r.item.payloadJson)}]::text[],
                  ARRAY[${column((r) => r.item.requestId)}]::text[], ARRAY[${column((r) => r.dups)}]::int[])
           AS t(org_id, service, source_id, event_id, event_type, event_timestamp, payload, request_id, dups)
    ON CONFLICT (org_id, service, event_id) DO UPDATE
       SET duplicate_count = e.duplicate_count + EXCLUDED.duplicate_count + 1,
           last_duplicate_at = now()
    RETURNING e.id, e.org_id, e.service, e.event_id, e.event_type, e.request_id, (e.xmax = 0) AS inserted
  ), enqueued AS (${OUTBOX_INSERT})
  SELECT * FROM stored`;
};

/**
 * Stores a group of events (each key once, `dups` repeats folded in) with the outbox rows of the new ones, and
 * commits: one statement, one round trip. A group holds events of many organizations (each resolved by the gateway,
 * never taken from the client), so it commits as one system-scoped statement rather than one forOrg transaction per
 * organization.
 */
export function storeWebhookEvents(db: Database, rows: { item: WebhookEventToStore; dups: number }[]): Promise<StoredWebhookEventRow[]> {
  return db.writeAsSystem<StoredWebhookEventRow>('webhook ingest', insertStatement(rows));
}


// ---------------------------------------------------------------------------------------------------------------
// The API's reads and replays (webhook-gateway `/integrations/*`), in the caller's transaction

/** The status column as the API shows it (`queued` once out of the outbox), for reads of WebhookEvent rows. */
const shownEventStatus = literal(eventStatusSql('"WebhookEvent"'));
const withShownStatus = (exclude: string[] = [], include: ProjectionAlias[] = []): FindAttributeOptions => ({
  exclude: [...exclude, 'status'],
  include: [[shownEventStatus, 'status'], ...include],
});

/** `?status=` on the shown status; stored statuses other than `received` still narrow the scan through their indexes. */
function shownStatusIs(status: string | undefined): WhereOptions[] {
  if (status === undefined) return [];
  if (status !== 'received' && status !== 'queued') return [{ status }];
  return [{ status: status === 'received' ? 'received' : ['received', 'queued'] }, sqlWhere(shownEventStatus, status)];
}

export interface WebhookEventListQuery {
  /** One organization, or null for a superadmin's all-organizations view. */
  orgScope: string | null;
  service?: string;
  /** The shown status (`queued` included). */
  status?: string;
  event_type?: string;
  since?: Date;
  until?: Date;
  limit: number;
  cursor?: KeysetCursor;
}

/** Events newest first, without payload and history, status as shown; `limit + 1` rows with `cursor_ts` (`pageOf`). */
export function listWebhookEvents(tx: Transaction, query: WebhookEventListQuery): Promise<WebhookEvent[]> {
  const where: WhereOptions = {
    ...(query.orgScope ? { org_id: query.orgScope } : {}),
    ...(query.service !== undefined ? { service: query.service } : {}),
    ...(query.event_type !== undefined ? { event_type: query.event_type } : {}),
    ...timeRange('received_at', query.since, query.until),
    [Op.and]: [...shownStatusIs(query.status), ...afterKeyset('received_at', query.cursor)],
  };
  return WebhookEvent.findAll({
    where,
    attributes: withShownStatus(['payload', 'history'], [keysetAttribute('received_at')]),
    order: [['received_at', 'DESC'], ['id', 'DESC']],
    limit: query.limit + 1,
    transaction: tx,
  });
}

/** One event with every column, status as shown; null when the transaction cannot see it. */
export function findWebhookEventShown(tx: Transaction, id: string): Promise<WebhookEvent | null> {
  return WebhookEvent.findByPk(id, { attributes: withShownStatus(), transaction: tx });
}

/** One event with its stored status (only a failed one may be replayed), its row locked against a concurrent replay. */
export function lockWebhookEventForReplay(tx: Transaction, id: string): Promise<WebhookEvent | null> {
  return WebhookEvent.findByPk(id, { lock: tx.LOCK.UPDATE, transaction: tx });
}

export interface DeadLetterFilter {
  service?: string;
  since?: Date;
  until?: Date;
}

/** Failed events in scope matching the filter (failure time = the row's last update). */
function deadLetterWhere(orgScope: string | null, filter: DeadLetterFilter): WhereOptions {
  return {
    status: 'failed',
    ...(orgScope ? { org_id: orgScope } : {}),
    ...(filter.service ? { service: filter.service } : {}),
    ...timeRange('updated_at', filter.since, filter.until),
  };
}

/** How many failed events in scope match the filter (a dry-run replay). */
export function countDeadLetters(tx: Transaction, orgScope: string | null, filter: DeadLetterFilter): Promise<number> {
  return WebhookEvent.count({ where: deadLetterWhere(orgScope, filter), transaction: tx });
}

/**
 * Up to `limit` failed events in scope matching the filter, oldest failure first, claimed with SKIP LOCKED so
 * concurrent replays never double up.
 */
export function lockDeadLetters(tx: Transaction, orgScope: string | null, filter: DeadLetterFilter, limit: number): Promise<WebhookEvent[]> {
  return WebhookEvent.findAll({
    where: deadLetterWhere(orgScope, filter),
    order: [['updated_at', 'ASC'], ['id', 'ASC']],
    limit,
    lock: tx.LOCK.UPDATE,
    skipLocked: true,
    transaction: tx,
  });
}

/** A locked event queued again by a replay, with the replay's entry appended to its history. */
export async function markEventRequeued(tx: Transaction, event: WebhookEvent, entry: AttemptRecord): Promise<void> {
  await event.update({ status: 'queued', history: [...(event.history ?? []), entry] }, { transaction: tx });
}

// ---------------------------------------------------------------------------------------------------------------
// The integration status (webhook-gateway `GET /integrations/status`)

/** Per service, what the status is derived from. */
export interface IntegrationStatusFigures {
  service: IntegrationService;
  has_events: boolean;
  last_event_id: string | null;
  last_success: Date | null;
  any_success: boolean;
  any_failure: boolean;
  pending: number;
  recent_terminal: string[] | null;
  last_failure: Date | null;
  last_error: string | null;
}

/** Attempts of one outcome of a service within the window. */
export interface IntegrationStatusWindowCount {
  service: string;
  outcome: string;
  n: number;
}

/**
 * Per service, each figure reads only that service's newest rows through an index (migration 0003 per organization,
 * 0005 across them), so the cost does not grow with history (1M events: a few ms instead of seconds). `{org}` is
 * the organization filter, or nothing for a superadmin's all-organizations view.
 */
const figuresSql = (org: string) => `
  SELECT s.service,
         EXISTS (SELECT 1 FROM webhook_events e WHERE ${org} e.service = s.service) AS has_events,
         (SELECT e.event_id FROM webhook_events e WHERE ${org} e.service = s.service
           ORDER BY e.received_at DESC, e.id DESC LIMIT 1) AS last_event_id,
         (SELECT e.processed_at FROM webhook_events e WHERE ${org} e.service = s.service AND e.status = 'processed'
           ORDER BY e.updated_at DESC, e.id DESC LIMIT 1) AS last_success,
         EXISTS (SELECT 1 FROM webhook_events e WHERE ${org} e.service = s.service AND e.status IN ('processed', 'skipped')) AS any_success,
         (EXISTS (SELECT 1 FROM webhook_events e WHERE ${org} e.service = s.service AND e.last_error IS NOT NULL)
           OR EXISTS (SELECT 1 FROM webhook_events e WHERE ${org} e.service = s.service AND e.status IN ('retrying', 'failed'))) AS any_failure,
         (SELECT count(*) FROM webhook_events e WHERE ${org} e.service = s.service
           AND e.status IN ('received', 'queued', 'retrying'))::int AS pending,
         -- the last three finished events, newest first: three failures in a row is an outage
         (SELECT array_agg(t.status) FROM (SELECT e.status FROM webhook_events e WHERE ${org} e.service = s.service
           AND e.status IN ('processed', 'skipped', 'failed') ORDER BY e.updated_at DESC, e.id DESC LIMIT 3) t) AS recent_terminal,
         lf.at AS last_failure, lf.error AS last_error
    FROM unnest($2::text[]) AS s(service)
    LEFT JOIN LATERAL (
      SELECT (h->>'at')::timestamptz AS at, h->>'error' AS error
        FROM (SELECT e.history FROM webhook_events e WHERE ${org} e.service = s.service AND e.last_error IS NOT NULL
               ORDER BY e.updated_at DESC LIMIT 1) failed, jsonb_array_elements(failed.history) h
       WHERE h->>'outcome' IN ('retrying', 'failed')
       ORDER BY (h->>'at')::timestamptz DESC LIMIT 1
    ) lf ON true`;

// Attempts are counted from each event's history, so a retry is counted when it happened, not when the event ends.
const windowSql = (org: string) => `
  SELECT e.service, h->>'outcome' AS outcome, count(*)::int AS n
    FROM webhook_events e, jsonb_array_elements(e.history) h
   WHERE ${org} e.service = ANY($2::text[]) AND e.updated_at >= $3 AND (h->>'at')::timestamptz >= $3
   GROUP BY 1, 2`;

/** The status's statements for one organization (or, with null, all of them), as bench/scale measures them too. */
export function integrationStatusStatements(orgId: string | null, since: Date): Record<'figures' | 'window', { sql: string; bind: unknown[] }> {
  const org = orgId ? 'e.org_id = $1::uuid AND' : '$1::uuid IS NULL AND';
  const bind = [orgId, [...INTEGRATION_SERVICES]];
  return { figures: { sql: figuresSql(org), bind }, window: { sql: windowSql(org), bind: [...bind, since] } };
}

/** The status's figures per service and its attempt counts since `since`, for one organization or (null) all. */
export async function readIntegrationStatus(
  tx: Transaction,
  orgId: string | null,
  since: Date,
): Promise<{ figures: IntegrationStatusFigures[]; window: IntegrationStatusWindowCount[] }> {
  const statements = integrationStatusStatements(orgId, since);
  // one query at a time: a transaction's client runs statements sequentially
  const figures = await selectRows<IntegrationStatusFigures>(tx, statements.figures.sql, statements.figures.bind);
  const window = await selectRows<IntegrationStatusWindowCount>(tx, statements.window.sql, statements.window.bind);
  return { figures, window };
}

// ---------------------------------------------------------------------------------------------------------------
// The stranded-retry relay (libs/messaging stranded-retries.ts)

/** A `retrying` event the relay republishes, with its retry counter. */
export type StrandedRetryRow = OutboxEventRow & { attempts: number };

/**
 * The relay's claim, in its system transaction `tx`: up to `limit` `retrying` events nothing touched for
 * `strandedAfterSeconds`, oldest first, `FOR UPDATE SKIP LOCKED` (skipping events an attempt holds) until they are
 * confirmed and touched.
 */
export function claimStrandedRetries(tx: Transaction, strandedAfterSeconds: number, limit: number): Promise<StrandedRetryRow[]> {
  return selectRows<StrandedRetryRow>(
    tx,
    `SELECT id, org_id, service, event_id, event_type, request_id, attempts
           FROM webhook_events
          WHERE status = 'retrying' AND updated_at < now() - make_interval(secs => $1)
          ORDER BY updated_at
          LIMIT $2
            FOR UPDATE SKIP LOCKED`,
    [strandedAfterSeconds, limit],
  );
}

/** Touches republished retries' `updated_at`, so the relay's next look waits another period. */
export async function touchRepublishedRetries(tx: Transaction, ids: string[]): Promise<void> {
  await execute(tx, 'UPDATE webhook_events SET updated_at = now() WHERE id = ANY($1::uuid[])', [ids]);
}
