import { ExternalUserConflictError, ExternalUserNotSyncedError, syncExternalUser, type ExternalUserChange } from '@saas/identity';
import { PermanentSyncError, TransientSyncError } from '../errors';
import { text, type Syncer } from './types';

const KINDS: Record<string, ExternalUserChange['kind']> = { 'user.created': 'created', 'user.updated': 'updated', 'user.deleted': 'deleted' };

/** user-service events, through the identity library so the same user invariants hold whoever writes. */
export const syncUser: Syncer = async (tx, event, data) => {
  const kind = KINDS[event.event_type];
  const externalId = text(data, 'user_id');
  if (!kind || !externalId) throw new PermanentSyncError(`cannot apply ${event.event_type} without a user_id`);
  const profile: ExternalUserChange['profile'] = {};
  for (const field of ['email', 'first_name', 'last_name', 'department', 'title'] as const) {
    if (field in data) profile[field] = text(data, field) ?? null;
  }
  try {
    const result = await syncExternalUser(tx, { orgId: event.org_id, externalId, kind, occurredAt: event.event_timestamp, profile });
    if (result.outcome === 'skipped') return { outcome: 'skipped', reason: result.reason };
    return {
      outcome: 'processed',
      audit: { action: 'integration.user.synced', targetType: 'user', targetId: result.user.id, metadata: { change: result.outcome, external_id: externalId } },
      revokedUserIds: result.tokensRevoked ? [result.user.id] : [],
    };
  } catch (err) {
    if (err instanceof ExternalUserConflictError) throw new PermanentSyncError(err.message, { cause: err });
    if (err instanceof ExternalUserNotSyncedError) throw new TransientSyncError(err.message, { cause: err });
    throw err;
  }
};
