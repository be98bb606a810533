import { Op, fn, col, where as sqlWhere } from 'sequelize';
import { isUniqueViolation, uniqueConstraintName, User, type Transaction } from '@saas/db';
import { revokeUserTokens } from './tokens';

/**
 * Users synced from an external directory (DESIGN §5): upserted by (org_id, external_id), created `pending`
 * without a password (they log in only after an invite), deactivated — tokens revoked — when deleted upstream.
 * Per-user ordering: an event older than the last one applied (users.external_updated_at) changes nothing.
 * Runs in the caller's transaction, which must carry the organization's context (Database.forOrg).
 */
export interface ExternalUserChange {
  orgId: string;
  externalId: string;
  kind: 'created' | 'updated' | 'deleted';
  /** The upstream event's timestamp. */
  occurredAt: Date;
  profile: Partial<Record<'email' | 'first_name' | 'last_name' | 'department' | 'title', string | null>>;
}

export type ExternalSyncResult =
  | { outcome: 'created' | 'updated' | 'deactivated'; user: User; tokensRevoked: boolean }
  | { outcome: 'skipped'; reason: string; user: User };

/** The change can never apply as sent (e.g. its email belongs to another account): retrying will not help. */
export class ExternalUserConflictError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'ExternalUserConflictError';
  }
}

/** The change refers to a user this organization has not synced yet: it may apply once the creation arrives. */
export class ExternalUserNotSyncedError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'ExternalUserNotSyncedError';
  }
}

const PROFILE_FIELDS = ['first_name', 'last_name', 'department', 'title'] as const;

function profileUpdate(profile: ExternalUserChange['profile']): Partial<User> {
  const update: Record<string, string | null> = {};
  for (const field of PROFILE_FIELDS) if (profile[field] !== undefined) update[field] = profile[field] ?? null;
  if (profile.email) update['email'] = profile.email.toLowerCase();
  return update as Partial<User>;
}

/** Translates the unique indexes a sync can hit: an email taken elsewhere is permanent; a concurrent create is not. */
async function guardUniques<T>(work: () => Promise<T>, email: string | undefined | null): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isUniqueViolation(err) && uniqueConstraintName(err) === 'users_email_key') {
      throw new ExternalUserConflictError(`the email ${email} belongs to another account`);
    }
    if (isUniqueViolation(err)) throw new ExternalUserNotSyncedError('the user is being created concurrently');
    throw err;
  }
}

export async function syncExternalUser(tx: Transaction, change: ExternalUserChange): Promise<ExternalSyncResult> {
  const existing = await User.findOne({ where: { org_id: change.orgId, external_id: change.externalId }, lock: tx.LOCK.UPDATE, transaction: tx });
  if (!existing) return createOrLink(tx, change);

  if (existing.external_updated_at && change.occurredAt < existing.external_updated_at) {
    return { outcome: 'skipped', reason: 'a newer change of this user was already applied', user: existing };
  }
  if (change.kind === 'deleted') {
    const wasInactive = existing.status === 'inactive';
    await existing.update({ status: 'inactive', external_updated_at: change.occurredAt }, { transaction: tx });
    if (!wasInactive) await revokeUserTokens(tx, existing.id);
    return { outcome: 'deactivated', user: existing, tokensRevoked: !wasInactive };
  }
  // A user deleted upstream stays inactive; later profile changes still apply.
  const update = { ...profileUpdate(change.profile), external_updated_at: change.occurredAt };
  await guardUniques(() => existing.update(update, { transaction: tx }), change.profile.email);
  return { outcome: 'updated', user: existing, tokensRevoked: false };
}

async function createOrLink(tx: Transaction, change: ExternalUserChange): Promise<ExternalSyncResult> {
  const email = change.profile.email?.toLowerCase();
  if (change.kind === 'deleted' || !email) {
    throw new ExternalUserNotSyncedError(`user ${change.externalId} has not been synced to this organization yet`);
  }
  const sameEmail = await User.findOne({
    where: { org_id: change.orgId, [Op.and]: [sqlWhere(fn('lower', col('email')), email)] },
    lock: tx.LOCK.UPDATE,
    transaction: tx,
  });
  if (sameEmail) {
    // An account the organization created itself is linked to its directory entry; one linked to another entry is not stolen.
    if (sameEmail.external_id) throw new ExternalUserConflictError(`the email ${email} belongs to directory user ${sameEmail.external_id}`);
    await sameEmail.update({ ...profileUpdate(change.profile), external_id: change.externalId, external_updated_at: change.occurredAt }, { transaction: tx });
    return { outcome: 'updated', user: sameEmail, tokensRevoked: false };
  }
  const user = await guardUniques(
    () =>
      User.create(
        {
          ...profileUpdate(change.profile),
          org_id: change.orgId,
          email,
          password_hash: null,
          role: 'user',
          status: 'pending',
          external_id: change.externalId,
          external_updated_at: change.occurredAt,
        },
        { transaction: tx },
      ),
    email,
  );
  return { outcome: 'created', user, tokensRevoked: false };
}
