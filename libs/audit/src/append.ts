import { randomUUID } from 'node:crypto';
import { AuditLog, type Transaction } from '@saas/db';
import { entryHash, GENESIS_HASH } from './chain';

export interface AuditEntryInput {
  orgId: string | null;
  actorType: 'user' | 'system';
  actorId?: string | null;
  action: string;
  targetType?: string | null;
  targetId?: string | null;
  requestId?: string | null;
  ip?: string | null;
  metadata?: Record<string, unknown>;
}

const chainLockKey = (orgId: string | null) => `audit-chain:${orgId ?? 'platform'}`;

/**
 * Appends an entry to its organization's hash chain inside the caller's transaction, so the entry commits or rolls
 * back with the change it records. Appends to one chain are serialized by a transaction-scoped advisory lock (held
 * until commit): call this as the last write of the transaction to keep that window short.
 * The transaction must see `orgId`'s rows (forOrg(orgId) or asSystem; org_id NULL needs asSystem).
 */
export async function appendAudit(tx: Transaction, entry: AuditEntryInput): Promise<AuditLog> {
  const { sequelize } = AuditLog;
  if (!sequelize) throw new Error('appendAudit: the database models are not initialized (construct a Database first)');
  await sequelize.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', { bind: [chainLockKey(entry.orgId)], transaction: tx });
  const last = await AuditLog.findOne({
    attributes: ['hash'],
    where: { org_id: entry.orgId },
    order: [['seq', 'DESC']],
    transaction: tx,
  });
  const fields = {
    id: randomUUID(),
    org_id: entry.orgId,
    actor_type: entry.actorType,
    actor_id: entry.actorId ?? null,
    action: entry.action,
    target_type: entry.targetType ?? null,
    target_id: entry.targetId ?? null,
    request_id: entry.requestId ?? null,
    ip: entry.ip ?? null,
    metadata: entry.metadata ?? {},
    created_at: new Date(),
  };
  const prevHash = last?.hash ?? GENESIS_HASH;
  return AuditLog.create({ ...fields, prev_hash: prevHash, hash: entryHash(prevHash, fields) }, { transaction: tx });
}
