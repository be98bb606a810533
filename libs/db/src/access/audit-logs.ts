import { Op, type WhereOptions } from 'sequelize';
import type { Transaction } from '../database';
import { AuditLog } from '../models';
import { afterKeyset, equalities, keysetAttribute, timeRange, type KeysetCursor } from '../pagination';

// Reading the audit_logs table for GET /audit-logs. Appending to and verifying the hash chain stay in libs/audit,
// which owns the chain's statements.

export interface AuditLogFilter {
  /** undefined: every organization the transaction sees. */
  orgId?: string;
  action?: string;
  actor_id?: string;
  target_type?: string;
  target_id?: string;
}

const filterWhere = (filter: AuditLogFilter): WhereOptions => ({
  ...(filter.orgId ? { org_id: filter.orgId } : {}),
  ...equalities(filter, ['action', 'actor_id', 'target_type', 'target_id']),
});

/** A page of entries within since/until, newest first by (created_at, id), which an index serves at any size: `limit + 1` rows. */
export function listAuditEntriesInRange(tx: Transaction, filter: AuditLogFilter, since: Date | undefined, until: Date | undefined, cursor: KeysetCursor | undefined, limit: number): Promise<AuditLog[]> {
  const where = { ...filterWhere(filter), ...timeRange('created_at', since, until), [Op.and]: afterKeyset('created_at', cursor) };
  return AuditLog.findAll({ where, attributes: { include: [keysetAttribute('created_at')] }, order: [['created_at', 'DESC'], ['id', 'DESC']], limit: limit + 1, transaction: tx });
}

/** A page of entries newest first by seq, before `cursor` (a seq): `limit + 1` rows. */
export function listAuditEntriesBySeq(tx: Transaction, filter: AuditLogFilter, cursor: string | undefined, limit: number): Promise<AuditLog[]> {
  const where = { ...filterWhere(filter), ...(cursor ? { seq: { [Op.lt]: cursor } } : {}) };
  return AuditLog.findAll({ where, order: [['seq', 'DESC']], limit: limit + 1, transaction: tx });
}
