import { randomUUID } from 'node:crypto';
import { execute, isUniqueViolation, selectRows, uniqueConstraintName, type Transaction, type User } from '@saas/db';

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

type ExternalSyncOutcome =
  | { outcome: 'created' | 'updated' | 'deactivated'; userId: string; tokensRevoked: boolean }
  | { outcome: 'skipped'; reason: string; userId: string };

/** What one change did, to the directory user it names. */
export type ExternalSyncResult = ExternalSyncOutcome & { externalId: string };

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

type UserRow = Pick<User, 'id' | 'email' | 'first_name' | 'last_name' | 'department' | 'title' | 'status' | 'external_id' | 'external_updated_at' | 'token_version'>;

const COLUMNS = 'id, org_id, email, first_name, last_name, department, title, status, external_id, external_updated_at, token_version';
const RECORD_TYPES =
  'id uuid, org_id uuid, email text, first_name text, last_name text, department text, title text, status text, external_id text, external_updated_at timestamptz, token_version int';
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

  /** Applies a profile change to the row; an email held by another user of the organization is a conflict. */
  applyProfile(row: UserRow, profile: ExternalUserChange['profile']): void {
    for (const field of PROFILE_FIELDS) if (profile[field] !== undefined) row[field] = profile[field] ?? null;
    const email = profile.email?.toLowerCase();
    if (email && email !== row.email.toLowerCase()) {
      const holder = this.byEmail.get(email);
      if (holder && holder !== row) throw new ExternalUserConflictError(`the email ${email} belongs to another account`);
      this.byEmail.delete(row.email.toLowerCase());
      this.byEmail.set(email, row);
      this.taken.add(email);
    }
    if (email) row.email = email;
    this.changed.add(row);
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
 * changes can touch (locked), one UPDATE of the stored ones and one INSERT of the new ones. Any error fails the whole
 * batch; it is the error a change applied alone fails with, except ExternalUserBatchUncheckableError.
 */
export async function syncExternalUsers(tx: Transaction, changes: ExternalUserChange[]): Promise<ExternalSyncResult[]> {
  const orgId = changes[0]?.orgId;
  if (!orgId) return [];
  if (changes.some((change) => change.orgId !== orgId)) throw new Error('a batch of external user changes belongs to one organization');
  const users = new UserSet(await lockUsers(tx, orgId, changes));
  const results = changes.map((change): ExternalSyncResult => ({ externalId: change.externalId, ...applyChange(users, change) }));
  users.assertCheckable();
  const rows = [...users.changed].filter((row) => users.stored.has(row));
  const emails = [...users.created, ...rows].map((row) => row.email).join(', ');
  // Updates first: a new user may take an email a stored one left.
  const records = (list: UserRow[]) => JSON.stringify(list.map((row) => ({ ...row, org_id: orgId })));
  if (rows.length) await guardUniques(() => execute(tx, UPDATE, [records(rows), rows.map((row) => row.id)]), emails);
  if (users.created.size) await guardUniques(() => execute(tx, INSERT, [records([...users.created])]), emails);
  return results;
}

function applyChange(users: UserSet, change: ExternalUserChange): ExternalSyncOutcome {
  const existing = users.byExternalId.get(change.externalId);
  if (!existing) return createOrLink(users, change);

  if (existing.external_updated_at && change.occurredAt < existing.external_updated_at) {
    return { outcome: 'skipped', reason: 'a newer change of this user was already applied', userId: existing.id };
  }
  existing.external_updated_at = change.occurredAt;
  if (change.kind === 'deleted') {
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

function createOrLink(users: UserSet, change: ExternalUserChange): ExternalSyncOutcome {
  const email = change.profile.email?.toLowerCase();
  if (change.kind === 'deleted' || !email) {
    throw new ExternalUserNotSyncedError(`user ${change.externalId} has not been synced to this organization yet`);
  }
  const sameEmail = users.byEmail.get(email);
  if (sameEmail) {
    // An account the organization created itself is linked to its directory entry; one linked to another entry is not stolen.
    if (sameEmail.external_id) throw new ExternalUserConflictError(`the email ${email} belongs to directory user ${sameEmail.external_id}`);
    sameEmail.external_id = change.externalId;
    sameEmail.external_updated_at = change.occurredAt;
    users.byExternalId.set(change.externalId, sameEmail);
    users.applyProfile(sameEmail, change.profile);
    return { outcome: 'updated', userId: sameEmail.id, tokensRevoked: false };
  }
  const user: UserRow = {
    id: randomUUID(),
    email,
    first_name: null,
    last_name: null,
    department: null,
    title: null,
    status: 'pending',
    external_id: change.externalId,
    external_updated_at: change.occurredAt,
    token_version: 1,
  };
  users.add(change.externalId, user);
  users.applyProfile(user, change.profile);
  return { outcome: 'created', userId: user.id, tokensRevoked: false };
}

/** The org's users matched by the changes' external ids or emails, locked in id order (one order for every locker). */
async function lockUsers(tx: Transaction, orgId: string, changes: ExternalUserChange[]): Promise<UserRow[]> {
  const externalIds = [...new Set(changes.map((change) => change.externalId))];
  const emails = [...new Set(changes.flatMap((change) => (change.profile.email ? [change.profile.email.toLowerCase()] : [])))];
  return selectRows<UserRow>(
    tx,
    `SELECT ${COLUMNS} FROM users
      WHERE org_id = $1 AND (external_id = ANY($2::text[]) OR email_lower = ANY($3::text[]))
      ORDER BY id FOR UPDATE`,
    [orgId, externalIds, emails],
  );
}

// The ids again as an array: the planner estimates 100 rows for any jsonb_to_recordset, and against that chose to
// hash-join a sequential scan of users (every row of the table) up to ~15k rows; `id = ANY` makes it the primary key's
// index whatever the table's size or statistics.
const UPDATE = `UPDATE users AS u
    SET email = r.email, first_name = r.first_name, last_name = r.last_name, department = r.department, title = r.title,
        status = r.status, external_id = r.external_id, external_updated_at = r.external_updated_at,
        token_version = r.token_version, updated_at = now()
   FROM jsonb_to_recordset($1::jsonb) AS r(${RECORD_TYPES})
  WHERE u.id = r.id AND u.org_id = r.org_id AND u.id = ANY($2::uuid[])`;

const INSERT = `INSERT INTO users (${COLUMNS}, password_hash, role, created_at, updated_at)
  SELECT ${COLUMNS}, NULL, 'user', now(), now() FROM jsonb_to_recordset($1::jsonb) AS r(${RECORD_TYPES})`;

/** Translates the unique indexes a sync can hit: an email taken elsewhere is permanent; a concurrent create is not. */
async function guardUniques<T>(work: () => Promise<T>, emails: string): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isUniqueViolation(err) && uniqueConstraintName(err) === 'users_email_key') {
      throw new ExternalUserConflictError(`the email ${emails} belongs to another account`);
    }
    if (isUniqueViolation(err)) throw new ExternalUserNotSyncedError('the user is being created concurrently');
    throw err;
  }
}
