import { randomUUID } from 'node:crypto';
import {
  insertDirectoryUsers,
  isUniqueViolation,
  lockDirectoryUsers,
  readDirectoryLinkPolicy,
  uniqueConstraintName,
  updateDirectoryUsers,
  type DirectoryUserRow,
  type Transaction,
} from '@saas/db';

/**
 * Users synced from an external directory (docs/TENANCY.md "Directory sync"): upserted by (org_id, external_id),
 * created `pending` without a password (they log in only after an invite), deactivated — tokens revoked — when
 * deleted upstream.
 * Per-user ordering: an event older than the last one applied (users.external_updated_at) changes nothing.
 * Runs in the caller's transaction, which must carry the organization's context (Database.forOrg).
 *
 * The directory changes only the users it manages: those it created or that were linked to it (that external_id in
 * the organization). An account it does not manage is linked to an entry carrying its email only when the organization
 * allows it (organizations.directory_links_existing_users), the account is a plain `user` and is linked to no other
 * entry; any other change that would take such an account or its email is refused (`email_owned_by_unmanaged_account`).
 * No change leaves the organization without an active admin (`last_active_admin`), the API's rule.
 */
export interface ExternalUserChange {
  orgId: string;
  externalId: string;
  kind: 'created' | 'updated' | 'deleted';
  /** The upstream event's timestamp. */
  occurredAt: Date;
  profile: Partial<Record<'email' | 'first_name' | 'last_name' | 'department' | 'title', string | null>>;
}

type ExternalSyncOutcome =
  | { outcome: 'created' | 'updated' | 'deactivated'; userId: string; tokensRevoked: boolean }
  /** An account the directory did not manage, now linked to the entry (its profile applied too), found by `email`. */
  | { outcome: 'linked'; userId: string; email: string; tokensRevoked: false }
  | { outcome: 'skipped'; reason: string; userId: string };

/** What one change did, to the directory user it names. */
export type ExternalSyncResult = ExternalSyncOutcome & { externalId: string };

/** Why a change is refused: its email belongs to an account the directory does not manage, or it would remove the last active admin. */
export type ExternalUserConflictCode = 'email_owned_by_unmanaged_account' | 'last_active_admin';

/**
 * The change cannot apply as things stand: retrying will not help (a replay may, once an admin changed what refused it,
 * e.g. let the directory link existing accounts). The message starts with the code.
 */
export class ExternalUserConflictError extends Error {
  constructor(
    readonly code: ExternalUserConflictCode,
    detail: string,
  ) {
    super(`${code}: ${detail}`);
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

/**
 * The changes are valid but their combined effect cannot be checked in one pass (a user took an email in passing that
 * may belong to another organization, which row-level security hides): apply them one by one instead.
 */
class ExternalUserBatchUncheckableError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'ExternalUserBatchUncheckableError';
  }
}

type UserRow = DirectoryUserRow;

const PROFILE_FIELDS = ['first_name', 'last_name', 'department', 'title'] as const;

/** The organization's users the changes can touch, in memory, with the indexes the changes look them up by. */
class UserSet {
  readonly byExternalId = new Map<string, UserRow>();
  readonly byEmail = new Map<string, UserRow>();
  readonly stored = new Set<UserRow>();
  readonly created = new Set<UserRow>();
  readonly changed = new Set<UserRow>();
  /** Emails users took within the batch (some may have left them again), and those the stored rows held. */
  private readonly taken = new Set<string>();
  private readonly storedEmails = new Set<string>();

  constructor(rows: UserRow[]) {
    for (const row of rows) {
      this.stored.add(row);
      this.byEmail.set(row.email.toLowerCase(), row);
      this.storedEmails.add(row.email.toLowerCase());
      if (row.external_id) this.byExternalId.set(row.external_id, row);
    }
  }

  add(externalId: string, row: UserRow): void {
    this.created.add(row);
    this.byExternalId.set(externalId, row);
    this.byEmail.set(row.email, row);
    this.taken.add(row.email);
  }

  /** Applies a profile change to the row; an email another user of the organization holds is refused. */
  applyProfile(row: UserRow, profile: ExternalUserChange['profile']): void {
    for (const field of PROFILE_FIELDS) if (profile[field] !== undefined) row[field] = profile[field] ?? null;
    const email = profile.email?.toLowerCase();
    if (email && email !== row.email.toLowerCase()) {
      const holder = this.byEmail.get(email);
      if (holder && holder !== row) throw emailOwned(email, holder.external_id ? `directory user ${holder.external_id}` : undefined);
      this.byEmail.delete(row.email.toLowerCase());
      this.byEmail.set(email, row);
      this.taken.add(email);
    }
    if (email) row.email = email;
    this.changed.add(row);
  }

  /** Whether a change's email names an account the directory does not manage yet (asked before any change applies): only then may a change link one. */
  mayLink(changes: ExternalUserChange[]): boolean {
    return changes.some((change) => {
      const holder = change.profile.email ? this.byEmail.get(change.profile.email.toLowerCase()) : undefined;
      return holder !== undefined && !holder.external_id;
    });
  }

  /** Exact only when every active admin of the organization is in the set (lockUsers with `activeAdmins`). */
  isLastActiveAdmin(row: UserRow): boolean {
    const isActiveAdmin = (user: UserRow) => user.role === 'admin' && user.status === 'active';
    return isActiveAdmin(row) && ![...this.stored].some((other) => other !== row && isActiveAdmin(other));
  }

  /**
   * The database checks the emails the rows end with, even those other organizations hold; an email taken and left
   * again within the batch that no row of this organization held could belong to another organization unseen.
   */
  assertCheckable(): void {
    const final = new Set([...this.created, ...this.changed].map((row) => row.email.toLowerCase()));
    const unchecked = [...this.taken].filter((email) => !final.has(email) && !this.storedEmails.has(email));
    if (unchecked.length) throw new ExternalUserBatchUncheckableError(`the emails ${unchecked.join(', ')} were held in passing`);
  }
}

/**
 * Applies a batch of one organization's changes in order, each seeing the effects of the earlier ones: the result
 * is the one of applying them one after another, in three statements whatever the batch's size — the users the
 * changes can touch (locked), one UPDATE of the stored ones and one INSERT of the new ones. Off that common path, a
 * batch that deletes or may link an account also reads the organization's row (see readOrganization). Any error fails
 * the whole batch; it is the error a change applied alone fails with, except ExternalUserBatchUncheckableError.
 */
export async function syncExternalUsers(tx: Transaction, changes: ExternalUserChange[]): Promise<ExternalSyncResult[]> {
  const orgId = changes[0]?.orgId;
  if (!orgId) return [];
  if (changes.some((change) => change.orgId !== orgId)) throw new Error('a batch of external user changes belongs to one organization');
  const deletes = changes.some((change) => change.kind === 'deleted');
  const users = new UserSet(await lockUsers(tx, orgId, changes, deletes));
  const linksExistingUsers = deletes || users.mayLink(changes) ? await readOrganization(tx, orgId, deletes) : false;
  const results = changes.map((change): ExternalSyncResult => ({ externalId: change.externalId, ...applyChange(users, change, linksExistingUsers) }));
  users.assertCheckable();
  const rows = [...users.changed].filter((row) => users.stored.has(row));
  const emails = [...users.created, ...rows].map((row) => row.email).join(', ');
  // Updates first: a new user may take an email a stored one left.
  if (rows.length) await guardUniques(() => updateDirectoryUsers(tx, orgId, rows), emails);
  if (users.created.size) await guardUniques(() => insertDirectoryUsers(tx, orgId, [...users.created]), emails);
  return results;
}

function applyChange(users: UserSet, change: ExternalUserChange, linksExistingUsers: boolean): ExternalSyncOutcome {
  const existing = users.byExternalId.get(change.externalId);
  if (!existing) return createOrLink(users, change, linksExistingUsers);

  if (existing.external_updated_at && change.occurredAt < existing.external_updated_at) {
    return { outcome: 'skipped', reason: 'a newer change of this user was already applied', userId: existing.id };
  }
  existing.external_updated_at = change.occurredAt;
  if (change.kind === 'deleted') {
    // The batch locked every active admin of the organization; the set holds the earlier changes' deletions.
    if (users.isLastActiveAdmin(existing)) {
      throw new ExternalUserConflictError('last_active_admin', `user ${change.externalId} is the last active admin of the organization`);
    }
    const wasInactive = existing.status === 'inactive';
    existing.status = 'inactive';
    // Revokes every token issued so far (see revokeUserTokens); the row is locked, so the new version is exact.
    if (!wasInactive) existing.token_version += 1;
    users.changed.add(existing);
    return { outcome: 'deactivated', userId: existing.id, tokensRevoked: !wasInactive };
  }
  // A user deleted upstream stays inactive; later profile changes still apply.
  users.applyProfile(existing, change.profile);
  return { outcome: 'updated', userId: existing.id, tokensRevoked: false };
}

function createOrLink(users: UserSet, change: ExternalUserChange, linksExistingUsers: boolean): ExternalSyncOutcome {
  const email = change.profile.email?.toLowerCase();
  if (change.kind === 'deleted' || !email) {
    throw new ExternalUserNotSyncedError(`user ${change.externalId} has not been synced to this organization yet`);
  }
  const sameEmail = users.byEmail.get(email);
  if (sameEmail) {
    const refusal = linkRefusal(sameEmail, linksExistingUsers);
    if (refusal) throw emailOwned(email, refusal);
    sameEmail.external_id = change.externalId;
    sameEmail.external_updated_at = change.occurredAt;
    users.byExternalId.set(change.externalId, sameEmail);
    users.applyProfile(sameEmail, change.profile);
    return { outcome: 'linked', userId: sameEmail.id, email, tokensRevoked: false };
  }
  const user: UserRow = {
    id: randomUUID(),
    email,
    first_name: null,
    last_name: null,
    department: null,
    title: null,
    status: 'pending',
    role: 'user',
    external_id: change.externalId,
    external_updated_at: change.occurredAt,
    token_version: 1,
  };
  users.add(change.externalId, user);
  users.applyProfile(user, change.profile);
  return { outcome: 'created', userId: user.id, tokensRevoked: false };
}

/**
 * Why the account holding a new entry's email may not be linked to it, as the holder named in the refusal; undefined
 * when it may: the organization allows links, the account is a plain user (an admin is never taken over) and no
 * other entry holds it already.
 */
function linkRefusal(holder: UserRow, linksExistingUsers: boolean): string | undefined {
  if (holder.external_id) return `directory user ${holder.external_id}`;
  if (holder.role !== 'user') return `an account the directory does not manage (role ${holder.role}, never linked)`;
  if (!linksExistingUsers) return 'an account the directory does not manage (the organization does not let the directory link existing accounts)';
  return undefined;
}

function emailOwned(email: string, holder = 'an account the directory does not manage'): ExternalUserConflictError {
  return new ExternalUserConflictError('email_owned_by_unmanaged_account', `the email ${email} belongs to ${holder}`);
}

/**
 * The org's users matched by the changes' external ids or emails, locked in id order (one order for every locker).
 * With `activeAdmins` (a batch that deletes), every active admin of the org too, so the batch can count them exactly.
 */
async function lockUsers(tx: Transaction, orgId: string, changes: ExternalUserChange[], activeAdmins: boolean): Promise<UserRow[]> {
  const externalIds = [...new Set(changes.map((change) => change.externalId))];
  const emails = [...new Set(changes.flatMap((change) => (change.profile.email ? [change.profile.email.toLowerCase()] : [])))];
  return lockDirectoryUsers(tx, orgId, externalIds, emails, activeAdmins);
}

/**
 * Whether the organization lets the directory link existing accounts. With `lock` (a batch that deletes) its row is
 * locked as the API's last-admin rule locks it (assertAnotherActiveAdmin), so the two serialize there; after the users,
 * as the API locks it after the user it changes: the other order could deadlock with the API.
 */
function readOrganization(tx: Transaction, orgId: string, lock: boolean): Promise<boolean> {
  return readDirectoryLinkPolicy(tx, orgId, lock);
}

/** Translates the unique indexes a sync can hit: an email taken outside the organization is permanent; a concurrent create is not. */
async function guardUniques<T>(work: () => Promise<T>, emails: string): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isUniqueViolation(err) && uniqueConstraintName(err) === 'users_email_key') throw emailOwned(emails, 'an account outside the organization');
    if (isUniqueViolation(err)) throw new ExternalUserNotSyncedError('the user is being created concurrently');
    throw err;
  }
}
