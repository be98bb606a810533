import { ExternalUserConflictError, ExternalUserNotSyncedError, syncExternalUsers, type ExternalUserChange } from '@saas/identity';
import { PermanentSyncError, TransientSyncError } from '../errors';
import { text, type BatchSyncer, type SyncResult } from './types';

const KINDS: Record<string, ExternalUserChange['kind']> = { 'user.created': 'created', 'user.updated': 'updated', 'user.deleted': 'deleted' };
const PROFILE_FIELDS = ['email', 'first_name', 'last_name', 'department', 'title'] as const;

/**
 * user-service events, through the identity library so the same user invariants hold whoever writes; a batch costs
 * three statements (one more when it deletes or may link an account, see syncExternalUsers). A refusal (ExternalUserConflictError: its code leads the message, the event's last_error) is
 * permanent: dead-lettered at once, replayable once an admin changed what refused it.
 */
export const syncUsers: BatchSyncer = async (tx, items) => {
  const changes = items.map(({ event, data }): ExternalUserChange => {
    const kind = KINDS[event.event_type];
    const externalId = text(data, 'user_id');
    if (!kind || !externalId) throw new PermanentSyncError(`cannot apply ${event.event_type} without a user_id`);
    const profile: ExternalUserChange['profile'] = {};
    for (const field of PROFILE_FIELDS) if (field in data) profile[field] = text(data, field) ?? null;
    return { orgId: event.org_id, externalId, kind, occurredAt: event.event_timestamp, profile };
  });
  try {
    const results = await syncExternalUsers(tx, changes);
    return results.map((result): SyncResult => {
      if (result.outcome === 'skipped') return { outcome: 'skipped', reason: result.reason };
      const user = { targetType: 'user', targetId: result.userId };
      const linked = result.outcome === 'linked' ? [{ ...user, action: 'integration.user.linked', metadata: { external_id: result.externalId, email: result.email } }] : [];
      return {
        outcome: 'processed',
        audits: [...linked, { ...user, action: 'integration.user.synced', metadata: { change: result.outcome, external_id: result.externalId } }],
        revokedUserIds: result.tokensRevoked ? [result.userId] : [],
      };
    });
  } catch (err) {
    if (err instanceof ExternalUserConflictError) throw new PermanentSyncError(err.message, { cause: err });
    if (err instanceof ExternalUserNotSyncedError) throw new TransientSyncError(err.message, { cause: err });
    throw err;
  }
};
