import { Op } from 'sequelize';
import type { Database, Transaction } from '../database';
import { User, type OrgStatus, type Role, type UserStatus } from '../models';
import { sql } from '../one-trip';
import { afterKeysetCondition, keysetExpression, likePattern, SEARCH_FIELD_SEPARATOR, type KeysetCursor } from '../pagination';
import { execute, selectRows } from '../raw-sql';

// The users table: every statement on it. Those taking a transaction run in it (its organization context or system
// scope, so row-level security applies); those taking the Database are one-round-trip reads of their own.

// --- one user -------------------------------------------------------------------------------------------------------

/** The user, or null when it does not exist or the transaction's scope does not see it. */
export function findUser(tx: Transaction, id: string): Promise<User | null> {
  return User.findByPk(id, { transaction: tx });
}

/** The user, its row locked (NO KEY UPDATE: rows that reference it, such as invites, can still be inserted) until the transaction ends. */
export function lockUser(tx: Transaction, id: string): Promise<User | null> {
  return User.findByPk(id, { transaction: tx, lock: tx.LOCK.NO_KEY_UPDATE });
}

/** The user with `email`, in any case and in any organization the transaction sees (login, bootstrap). */
export function findUserByEmail(tx: Transaction, email: string): Promise<User | null> {
  return User.findOne({ where: User.withEmail(email), transaction: tx });
}

/** The columns of a user's public shape, as `GET /users` and `GET /users/me` read them. */
export type UserProfileRow = Pick<
  User,
  'id' | 'org_id' | 'email' | 'first_name' | 'last_name' | 'role' | 'status' | 'department' | 'title' | 'external_id' | 'created_at' | 'updated_at'
>;

/**
 * The user's profile columns, read in one round trip under row-level security: within `orgId`, or across
 * organizations for a superadmin (`orgId` null). Undefined when the scope does not see the user.
 */
export async function readUserProfile(db: Database, userId: string, orgId: string | null): Promise<UserProfileRow | undefined> {
  const statement = sql`SELECT id, org_id, email, first_name, last_name, role, status, department, title, external_id, created_at, updated_at
                          FROM users WHERE id = ${userId}`;
  const [row] =
    orgId === null ? await db.readAsSystem<UserProfileRow>('a superadmin reads their own profile', statement) : await db.readForOrg<UserProfileRow>(orgId, statement);
  return row;
}

/** What a token is checked against: the user's state and their organization's status (null without one). */
export interface UserTokenStateRow {
  status: UserStatus;
  token_version: number;
  role: Role;
  org_id: string | null;
  org_status: OrgStatus | null;
}

/** The user's token state in one round trip; undefined when the user does not exist (or the scope does not see them). */
export async function readUserTokenState(db: Database, userId: string, orgClaim: string | null): Promise<UserTokenStateRow | undefined> {
  const statement = sql`SELECT u.status, u.token_version, u.role, u.org_id, o.status AS org_status
                          FROM users u LEFT JOIN organizations o ON o.id = u.org_id
                         WHERE u.id = ${userId}`;
  // A member's state is read inside their own organization's scope; only a superadmin (no organization) needs the system scope.
  const [row] = orgClaim ? await db.readForOrg<UserTokenStateRow>(orgClaim, statement) : await db.readAsSystem<UserTokenStateRow>('token check of a superadmin', statement);
  return row;
}

/** How many active admins the organization has besides `exceptUserId`. */
export function countOtherActiveAdmins(tx: Transaction, orgId: string, exceptUserId: string): Promise<number> {
  return User.count({ where: { org_id: orgId, role: 'admin', status: 'active', id: { [Op.ne]: exceptUserId } }, transaction: tx });
}

// --- writes ---------------------------------------------------------------------------------------------------------

export type NewUserRow = {
  org_id: string | null;
  /** Stored as given: callers lower-case it. */
  email: string;
  password_hash?: string | null;
  role: Role;
  status: UserStatus;
  first_name?: string | null;
  last_name?: string | null;
  department?: string | null;
  title?: string | null;
  sso_subject?: string | null;
};

/** Inserts a user; an email another account holds fails with a unique violation (users_email_key). */
export function insertUser(tx: Transaction, values: NewUserRow): Promise<User> {
  return User.create(values, { transaction: tx });
}

export type UserChangeValues = Partial<Pick<User, 'first_name' | 'last_name' | 'department' | 'title' | 'role' | 'status'>>;

/** Writes `values` (profile, role, status) to the user; the instance is updated too. */
export function saveUserChanges(tx: Transaction, user: User, values: UserChangeValues): Promise<User> {
  return user.update(values, { transaction: tx });
}

/** Soft delete: the user's status becomes `inactive`. */
export function markUserInactive(tx: Transaction, user: User): Promise<User> {
  return user.update({ status: 'inactive' }, { transaction: tx });
}

/** Replaces the user's password hash. */
export function setUserPassword(tx: Transaction, user: User, passwordHash: string): Promise<User> {
  return user.update({ password_hash: passwordHash }, { transaction: tx });
}

/** Sets the (pending) user's first password and makes them active. */
export function activateUserWithPassword(tx: Transaction, user: User, passwordHash: string): Promise<User> {
  return user.update({ password_hash: passwordHash, status: 'active' }, { transaction: tx });
}

/** Binds the user to the identity provider's `sub` and makes them active (a pending user included). */
export function bindUserToSsoSubject(tx: Transaction, user: User, subject: string): Promise<User> {
  return user.update({ sso_subject: subject, status: 'active' }, { transaction: tx });
}

/** Bumps the user's token version: every token issued so far no longer matches it. */
export async function bumpTokenVersion(tx: Transaction, userId: string): Promise<void> {
  await User.increment('token_version', { by: 1, where: { id: userId }, transaction: tx });
}

/** Reads the user's row again into the instance: what a statement changed behind it (the token version). */
export function reloadUser(tx: Transaction, user: User): Promise<User> {
  return user.reload({ transaction: tx });
}

// --- single sign-on bindings ----------------------------------------------------------------------------------------

/** The organization's user bound to the identity provider's `sub`, locked (NO KEY UPDATE). */
export function lockUserBySsoSubject(tx: Transaction, orgId: string, subject: string): Promise<User | null> {
  return User.findOne({ where: { org_id: orgId, sso_subject: subject }, transaction: tx, lock: tx.LOCK.NO_KEY_UPDATE });
}

/** The organization's user with `email` (in any case), locked (NO KEY UPDATE). */
export function lockOrganizationUserByEmail(tx: Transaction, orgId: string, email: string): Promise<User | null> {
  return User.findOne({ where: { [Op.and]: [User.withEmail(email), { org_id: orgId }] }, transaction: tx, lock: tx.LOCK.NO_KEY_UPDATE });
}

/** Forgets which IdP identities the organization's users signed in as (their `sub` means nothing to another issuer). */
export async function clearSsoBindings(tx: Transaction, orgId: string): Promise<number> {
  const [count] = await User.update({ sso_subject: null }, { where: { org_id: orgId, sso_subject: { [Op.ne]: null } }, transaction: tx });
  return count;
}

// --- the list -------------------------------------------------------------------------------------------------------

export interface UserListQuery {
  /** null: every organization (a superadmin without `org_id`). */
  orgId: string | null;
  status?: string;
  role?: string;
  q?: string;
  limit: number;
  cursor?: KeysetCursor;
}

/** A listed user, with its cursor. */
export type ListedUserRow = UserProfileRow & { cursor_ts: string };

const LISTED_COLUMNS = `id, org_id, email, first_name, last_name, role, status, department, title, external_id, created_at, updated_at`;
const NEWEST_FIRST = 'ORDER BY created_at DESC, id DESC';

/**
 * The statement of `GET /users` (bench/scale measures this one): a page of users, newest first, with `limit + 1` rows.
 *
 * With `q` (a case-insensitive substring of the e-mail, first or last name, wildcards literal), in two steps: the page's
 * ids from the newest-first index alone (it carries `search`, migration 0006), then those rows. Row-level security
 * keeps every index from serving the substring test (not leakproof), and it keeps the planner from column statistics
 * for it too: it guesses. `LIKE '%q%'` is guessed to match almost nothing, so the planner sorts a whole-table scan;
 * `strpos(…) > 0`, the same test, is guessed to match a third, so it walks the index newest-first and stops at a full
 * page (all of it when nothing matches: 0.2 µs an entry). Rows too long for the index (`search` NULL) are matched
 * field by field through their own (normally empty) index, as is every row when q contains the field separator.
 */
export function userListStatement(query: UserListQuery): { text: string; bind: unknown[] } {
  const bind: unknown[] = [];
  const value = (v: unknown) => `$${bind.push(v)}`;
  const filters = [
    ...(query.orgId ? [`org_id = ${value(query.orgId)}::uuid`] : []),
    ...(query.status ? [`status = ${value(query.status)}`] : []),
    ...(query.role ? [`role = ${value(query.role)}`] : []),
    ...(query.cursor ? [afterKeysetCondition('created_at', query.cursor, value)] : []),
  ];
  const page = `${NEWEST_FIRST} LIMIT ${value(query.limit + 1)}`;
  const where = (conditions: string[]) => (conditions.length ? `WHERE ${conditions.join(' AND ')}` : '');
  const select = `SELECT ${LISTED_COLUMNS}, ${keysetExpression('created_at')} AS cursor_ts FROM users`;
  if (!query.q) return { text: `${select} ${where(filters)} ${page}`, bind };

  const pattern = value(likePattern(query.q));
  const byField = `(email ILIKE ${pattern} OR first_name ILIKE ${pattern} OR last_name ILIKE ${pattern})`;
  const matches = query.q.includes(SEARCH_FIELD_SEPARATOR) ? [byField] : [`strpos(search, lower(${value(query.q)})) > 0`, `search IS NULL AND ${byField}`];
  const ids = matches.map((match) => `(SELECT id FROM users ${where([...filters, match])} ${page})`).join(' UNION ALL ');
  return { text: `${select} WHERE id IN (${ids}) ${page}`, bind };
}

/** A page of users (`userListStatement`): `limit + 1` rows, so the caller tells from the extra one whether a next page exists (pageOf). */
export function listUsersPage(tx: Transaction, query: UserListQuery): Promise<ListedUserRow[]> {
  const { text, bind } = userListStatement(query);
  return selectRows<ListedUserRow>(tx, text, bind);
}

// --- directory sync -------------------------------------------------------------------------------------------------

/** A user as the directory sync reads and writes it (the role is read, never written: the directory creates plain users). */
export type DirectoryUserRow = Pick<
  User,
  'id' | 'email' | 'first_name' | 'last_name' | 'department' | 'title' | 'status' | 'external_id' | 'external_updated_at' | 'token_version' | 'role'
>;

/** The columns a sync writes (the role is read, never written: the directory creates plain users). */
const COLUMNS = 'id, org_id, email, first_name, last_name, department, title, status, external_id, external_updated_at, token_version';
const RECORD_TYPES =
  'id uuid, org_id uuid, email text, first_name text, last_name text, department text, title text, status text, external_id text, external_updated_at timestamptz, token_version int';

/**
 * The organization's users with one of `externalIds` or (lower-cased) `emails`, locked FOR UPDATE in id order (one
 * order for every locker). With `activeAdmins`, every active admin of the organization too.
 */
export function lockDirectoryUsers(tx: Transaction, orgId: string, externalIds: string[], emails: string[], activeAdmins: boolean): Promise<DirectoryUserRow[]> {
  return selectRows<DirectoryUserRow>(
    tx,
    `SELECT ${COLUMNS}, role FROM users
      WHERE org_id = $1 AND (external_id = ANY($2::text[]) OR email_lower = ANY($3::text[])${activeAdmins ? " OR (role = 'admin' AND status = 'active')" : ''})
      ORDER BY id FOR UPDATE`,
    [orgId, externalIds, emails],
  );
}

/** The rows as the jsonb_to_recordset of UPDATE and INSERT reads them. */
const records = (orgId: string, rows: DirectoryUserRow[]) => JSON.stringify(rows.map((row) => ({ ...row, org_id: orgId })));

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

/** Writes the synced columns of the organization's stored `rows` in one statement; an email taken fails with a unique violation. */
export function updateDirectoryUsers(tx: Transaction, orgId: string, rows: DirectoryUserRow[]): Promise<void> {
  return execute(tx, UPDATE, [records(orgId, rows), rows.map((row) => row.id)]);
}

/** Inserts the organization's new directory `rows` (plain users, no password) in one statement; an email taken fails with a unique violation. */
export function insertDirectoryUsers(tx: Transaction, orgId: string, rows: DirectoryUserRow[]): Promise<void> {
  return execute(tx, INSERT, [records(orgId, rows)]);
}

/** The ids of the organization's users with the recipients' `emails` (any case), by lower-case email: a log links to its recipient's user. */
export async function recipientUserIds(tx: Transaction, orgId: string, emails: string[]): Promise<Map<string, string>> {
  if (!emails.length) return new Map();
  const rows = await selectRows<{ id: string; email: string }>(tx, 'SELECT id, email_lower AS email FROM users WHERE org_id = $1 AND email_lower = ANY($2::text[])', [
    orgId,
    [...new Set(emails.map((email) => email.toLowerCase()))],
  ]);
  return new Map(rows.map((row) => [row.email, row.id]));
}

/** The id of the organization's user with `externalId`, the subscription's customer in the provider, or null. */
export async function subscriberUserId(tx: Transaction, orgId: string, externalId: string): Promise<string | null> {
  const user = await User.findOne({ where: { org_id: orgId, external_id: externalId }, attributes: ['id'], transaction: tx });
  return user ? user.id : null;
}
