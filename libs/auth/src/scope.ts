import type { Database, Transaction } from '@saas/db';

/**
 * Runs `work` in the transaction an organization scope calls for: one organization's rows (`forOrg`), or, for a
 * superadmin's all-organizations scope (`null`, from resolveOrgScope), a system transaction that says why.
 */
export function withOrgScope<T>(db: Database, orgScope: string | null, reason: string, work: (tx: Transaction) => Promise<T>): Promise<T> {
  return orgScope === null ? db.asSystem(reason, work) : db.forOrg(orgScope, work);
}
