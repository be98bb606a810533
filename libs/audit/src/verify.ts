import { Op } from 'sequelize';
import { AuditLog, type Transaction } from '@saas/db';
import { entryHash, GENESIS_HASH } from './chain';

export interface ChainVerification {
  valid: boolean;
  entries_checked: number;
  first_invalid_id?: string;
}

const BATCH = 1000;

/**
 * Recomputes one organization's chain (org_id NULL: the platform's) in append order. An edited entry fails its own
 * hash; a removed or inserted one breaks the next entry's link to its predecessor.
 */
export async function verifyAuditChain(tx: Transaction, orgId: string | null): Promise<ChainVerification> {
  let prevHash = GENESIS_HASH;
  let lastSeq = '0';
  let checked = 0;
  for (;;) {
    const batch = await AuditLog.findAll({
      where: { org_id: orgId, seq: { [Op.gt]: lastSeq } },
      order: [['seq', 'ASC']],
      limit: BATCH,
      transaction: tx,
    });
    for (const entry of batch) {
      checked += 1;
      const expected = entryHash(prevHash, entry);
      if (entry.prev_hash !== prevHash || entry.hash !== expected) return { valid: false, entries_checked: checked, first_invalid_id: entry.id };
      prevHash = entry.hash;
      lastSeq = entry.seq;
    }
    if (batch.length < BATCH) return { valid: true, entries_checked: checked };
  }
}

/** Verifies every chain the transaction can see (a system transaction: every organization's and the platform's). */
export async function verifyAllAuditChains(tx: Transaction): Promise<ChainVerification> {
  const chains = (await AuditLog.findAll({
    attributes: ['org_id'],
    group: ['org_id'],
    transaction: tx,
    raw: true,
  })) as unknown as { org_id: string | null }[];
  let checked = 0;
  for (const { org_id } of chains) {
    const result = await verifyAuditChain(tx, org_id);
    checked += result.entries_checked;
    if (!result.valid) return { ...result, entries_checked: checked };
  }
  return { valid: true, entries_checked: checked };
}
