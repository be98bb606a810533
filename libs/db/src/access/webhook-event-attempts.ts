import type { Database, Transaction } from '../database';
import type { AttemptRecord, WebhookEvent } from '../models';
import { sql, sqlList, type SqlStatement } from '../one-trip';
import { selectRows } from '../raw-sql';

// The integration worker's statements on webhook_events: the rows of incoming deliveries, their lock while an attempt
// is applied, and the attempts' outcomes.

/** The webhook_events columns the worker reads, as plain rows (no model instances on the hot path). */
export type EventRow = Pick<
  WebhookEvent,
  'id' | 'org_id' | 'service' | 'event_id' | 'event_type' | 'event_timestamp' | 'status' | 'payload' | 'attempts' | 'history' | 'received_at'
>;

/** An attempt's outcome for its event row; `last_error` and `processed_at` stay as they were when absent. */
export interface EventChange {
  id: string;
  status: WebhookEvent['status'];
  attempts: number;
  history: AttemptRecord[];
  last_error?: string;
  processed_at?: Date;
}

/** The rows of `ids` (uuids, checked when the message was parsed). */
const eventsById = (ids: string[]) =>
  sql`SELECT id, org_id, service, event_id, event_type, event_timestamp, status, payload, attempts, history, received_at
        FROM webhook_events WHERE id = ANY(ARRAY[${sqlList(ids)}]::uuid[])`;

/** The rows of `ids` of one organization, read in one round trip (no transaction of the caller's). */
export async function loadEventsForOrg(db: Database, orgId: string, ids: string[]): Promise<Map<string, EventRow>> {
  return byId(await db.readForOrg<EventRow>(orgId, eventsById(ids)));
}

/**
 * The rows of `ids` in the transaction, each locked FOR UPDATE in one statement, in id order, so two transactions
 * locking overlapping sets never deadlock on them.
 */
export async function lockEventsForUpdate(tx: Transaction, ids: string[]): Promise<Map<string, EventRow>> {
  return byId(await selectRows<EventRow>(tx, `${eventsById(ids).text} ORDER BY id FOR UPDATE`, []));
}

const byId = (rows: EventRow[]) => new Map(rows.map((row) => [row.id, row]));

/**
 * The UPDATE that stores the outcomes of many attempts (values as literals: it can share a round trip, see
 * appendAuditEntries). The ids are listed again for the planner: it estimates 100 rows for any jsonb_to_recordset,
 * and against that hash-joined a sequential scan of webhook_events — the whole table, every group — until the table
 * passed ~15k rows; `id = ANY` makes it the primary key's index at any size.
 */
export function eventsUpdate(changes: EventChange[]): SqlStatement {
  return sql`UPDATE webhook_events AS e
        SET status = c.status, attempts = c.attempts, history = c.history,
            last_error = COALESCE(c.last_error, e.last_error), processed_at = COALESCE(c.processed_at, e.processed_at), updated_at = now()
       FROM jsonb_to_recordset(${JSON.stringify(changes)}::jsonb) AS c(id uuid, status text, attempts int, history jsonb, last_error text, processed_at timestamptz)
      WHERE e.id = c.id AND e.id = ANY(ARRAY[${sqlList(changes.map((change) => change.id))}]::uuid[])`;
}
