import { appendAudit, type AuditEntryInput } from '@saas/audit';
import type { Transaction } from '@saas/db';

/** Who performs a change, as its audit entries record them. */
export interface Actor {
  actorType: 'user' | 'system';
  actorId: string | null;
  requestId?: string | null;
  ip?: string | null;
}

export type AuditedChange = Omit<AuditEntryInput, 'actorType' | 'actorId' | 'requestId' | 'ip'>;

/** Appends the audit entry of a change made by `actor`, in the change's transaction. */
export function audit(tx: Transaction, actor: Actor, change: AuditedChange) {
  return appendAudit(tx, { ...change, actorType: actor.actorType, actorId: actor.actorId, requestId: actor.requestId ?? null, ip: actor.ip ?? null });
}
