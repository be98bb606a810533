import { randomUUID } from 'node:crypto';
import { AuditLog, execute, type Transaction } from '@saas/db';
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
 * The chain heads a transaction already holds the lock for, with their latest hash. The advisory lock is held until
 * commit, so no one else appends to that chain meanwhile: a transaction applying many events (the worker's group
 * commit) takes the lock and reads the head once, then chains from memory (3 statements per entry → 1). Appends
 * inside savepoints (nested transactions) would bypass this cache: none exist, keep it so.
 */
const heldHeads = new WeakMap<Transaction, Map<string, string>>();

/**
 * Appends an entry to its organization's hash chain inside the caller's transaction, so the entry commits or rolls
 * back with the change it records. Appends to one chain are serialized by a transaction-scoped advisory lock (held
 * until commit): call this as the last write of the transaction to keep that window short.
 * The transaction must see `orgId`'s rows (forOrg(orgId) or asSystem; org_id NULL needs asSystem).
 */
export async function appendAudit(tx: Transaction, entry: AuditEntryInput): Promise<AuditLog> {
  const [created] = await appendAuditEntries(tx, [entry]);
  return created as AuditLog;
}

/**
 * Appends entries in the given order, as appendAudit would one by one, with one INSERT: their links are computed in
 * memory from the chain heads (each chain locked and read once per transaction) and the rows of one multi-row
 * INSERT take their `seq` in VALUES order, which is the order verify follows.
 */
export async function appendAuditEntries(tx: Transaction, entries: AuditEntryInput[]): Promise<AuditLog[]> {
  if (!entries.length) return [];
  let heads = heldHeads.get(tx);
  if (!heads) heldHeads.set(tx, (heads = new Map()));
  // the new heads are kept once the rows are stored, as a single append's were
  const advanced = new Map<string, string>();
  const rows = [];
  for (const entry of entries) {
    const key = chainLockKey(entry.orgId);
    let prevHash = advanced.get(key) ?? heads.get(key);
    if (prevHash === undefined) {
      await execute(tx, 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [key]);
      const last = await AuditLog.findOne({ attributes: ['hash'], where: { org_id: entry.orgId }, order: [['seq', 'DESC']], transaction: tx });
      prevHash = last?.hash ?? GENESIS_HASH;
    }
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
    const hash = entryHash(prevHash, fields);
    rows.push({ ...fields, prev_hash: prevHash, hash });
    advanced.set(key, hash);
  }
  const created = await AuditLog.bulkCreate(rows, { transaction: tx });
  for (const [key, hash] of advanced) heads.set(key, hash);
  return created;
}
