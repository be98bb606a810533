import { Op, col, where as sqlWhere, type WhereOptions } from 'sequelize';
import type { Transaction } from '../database';
import { CommunicationLog } from '../models';
import { afterKeyset, equalities, keysetAttribute, type KeysetCursor } from '../pagination';
import { execute, selectRows } from '../raw-sql';

// The communication-service sync's statements: a batch of events reads and locks the logs it touches, finds the users
// of their recipients, then writes its new logs with one INSERT and its changed ones with one UPDATE.

/** A communication_logs row as the sync reads and writes it (plain rows, no model instances). */
export type CommunicationLogRow = Pick<
  CommunicationLog,
  | 'id'
  | 'org_id'
  | 'message_id'
  | 'recipient'
  | 'template'
  | 'status'
  | 'user_id'
  | 'delivery_time_ms'
  | 'bounce_reason'
  | 'bounce_type'
  | 'failure_reason'
  | 'esp_message_id'
  | 'last_event_at'
>;

const COLUMNS = 'id, org_id, message_id, recipient, template, status, user_id, delivery_time_ms, bounce_reason, bounce_type, failure_reason, esp_message_id, last_event_at';
const RECORD_TYPES =
  'id uuid, org_id uuid, message_id text, recipient text, template text, status text, user_id uuid, delivery_time_ms int, bounce_reason text, bounce_type text, failure_reason text, esp_message_id text, last_event_at timestamptz';

/** The organization's logs of `messageIds`, locked FOR UPDATE in message_id order (no deadlock between batches), by message id. */
export async function lockCommunicationLogs(tx: Transaction, orgId: string, messageIds: string[]): Promise<Map<string, CommunicationLogRow>> {
  const rows = await selectRows<CommunicationLogRow>(
    tx,
    `SELECT ${COLUMNS} FROM communication_logs WHERE org_id = $1 AND message_id = ANY($2::text[]) ORDER BY message_id FOR UPDATE`,
    [orgId, messageIds],
  );
  return new Map(rows.map((row) => [row.message_id, row]));
}

/** New logs, all in one INSERT. */
export async function insertCommunicationLogs(tx: Transaction, logs: CommunicationLogRow[]): Promise<void> {
  if (!logs.length) return;
  await execute(
    tx,
    `INSERT INTO communication_logs (${COLUMNS}, created_at, updated_at)
     SELECT ${COLUMNS}, now(), now() FROM jsonb_to_recordset($1::jsonb) AS l(${RECORD_TYPES})`,
    [JSON.stringify(logs)],
  );
}

/**
 * Changed logs, all in one UPDATE. `id = ANY` keeps the primary key's index: against jsonb_to_recordset's fixed
 * estimate of 100 rows the planner hash-joins a sequential scan (webhook-event-attempts' eventsUpdate).
 */
export async function updateCommunicationLogs(tx: Transaction, logs: CommunicationLogRow[]): Promise<void> {
  if (!logs.length) return;
  await execute(
    tx,
    `UPDATE communication_logs AS c
        SET recipient = l.recipient, template = l.template, status = l.status, user_id = l.user_id, delivery_time_ms = l.delivery_time_ms,
            bounce_reason = l.bounce_reason, bounce_type = l.bounce_type, failure_reason = l.failure_reason,
            esp_message_id = l.esp_message_id, last_event_at = l.last_event_at, updated_at = now()
       FROM jsonb_to_recordset($1::jsonb) AS l(${RECORD_TYPES})
      WHERE c.id = l.id AND c.id = ANY($2::uuid[])`,
    [JSON.stringify(logs), logs.map((log) => log.id)],
  );
}

/** What GET /communication-logs filters on; undefined: any. `orgId` undefined: every organization the transaction sees. */
export interface CommunicationLogListFilter {
  orgId?: string;
  status?: string;
  template?: string;
  recipient?: string;
}

/** A page of communication logs, newest first by (created_at, id), after `cursor`: `limit + 1` rows. */
export function listCommunicationLogsPage(tx: Transaction, filter: CommunicationLogListFilter, cursor: KeysetCursor | undefined, limit: number): Promise<CommunicationLog[]> {
  const where: WhereOptions = {
    ...(filter.orgId ? { org_id: filter.orgId } : {}),
    ...equalities(filter, ['status', 'template']),
    [Op.and]: [
      // recipient_lower (migration 0009) is what its index serves under row-level security; lower(recipient) could not be
      ...(filter.recipient ? [sqlWhere(col('recipient_lower'), filter.recipient.toLowerCase())] : []),
      ...afterKeyset('created_at', cursor),
    ],
  };
  return CommunicationLog.findAll({ where, attributes: { include: [keysetAttribute('created_at')] }, order: [['created_at', 'DESC'], ['id', 'DESC']], limit: limit + 1, transaction: tx });
}
