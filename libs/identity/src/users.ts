import {
  activateUserWithPassword,
  countOtherActiveAdmins,
  findOrganization,
  insertUser,
  lockOrganization,
  markUserInactive,
  readUserProfile,
  reloadUser,
  saveUserChanges,
  setUserPassword,
  type Database,
  type Organization,
  type Role,
  type Transaction,
  type User,
  type UserChangeValues,
  type UserStatus,
} from '@saas/db';
import { IdentityRefusal } from './refusals';
import { audit, type Actor } from './actor';
import { refuseDuplicates } from './conflicts';
import { issueInvite, revokeInvites, type IssuedInvite } from './invites';
import { toUserResource, type UserResource } from './resources';
import { revokeUserTokens } from './tokens';

export interface ProfileFields {
  first_name?: string | null;
  last_name?: string | null;
  department?: string | null;
  title?: string | null;
}

export interface NewMember extends ProfileFields {
  orgId: string;
  email: string;
  role: Exclude<Role, 'superadmin'>;
  /** bcrypt hash; without one the user is `pending` and gets an invite. */
  passwordHash: string | null;
}

/**
 * Locks the organization row: changes that could leave it without an active admin serialize on it (lockOrganization:
 * NO KEY UPDATE, so inserts that reference the organization are not blocked).
 */
async function lockExistingOrganization(tx: Transaction, orgId: string): Promise<Organization> {
  const org = await lockOrganization(tx, orgId);
  if (!org) throw new IdentityRefusal('not_found', 'organization_not_found', 'Organization not found');
  return org;
}

/** 409 when `user` is the last active admin of their organization and is about to stop being one. */
async function assertAnotherActiveAdmin(tx: Transaction, user: User): Promise<void> {
  if (user.role !== 'admin' || user.status !== 'active' || !user.org_id) return;
  await lockExistingOrganization(tx, user.org_id);
  const others = await countOtherActiveAdmins(tx, user.org_id, user.id);
  if (others === 0) throw new IdentityRefusal('conflict', 'last_active_admin', 'The last active admin of an organization cannot be demoted, suspended or deleted');
}

/**
 * The caller's own profile (`GET /users/me`), read in one round trip under row-level security: within their
 * organization, or across organizations for a superadmin (`orgId` null). Undefined when it is not theirs to see.
 * `userId` and `orgId` are the authenticated principal's, already validated as uuids.
 */
export async function findOwnProfile(db: Database, userId: string, orgId: string | null): Promise<UserResource | undefined> {
  const row = await readUserProfile(db, userId, orgId);
  return row && row.org_id === orgId ? toUserResource(row) : undefined;
}

/** Creates a member of an organization (an active one with a password, else pending with an invite) and audits it. */
export async function createMember(tx: Transaction, input: NewMember, actor: Actor, inviteTtlHours: number): Promise<{ user: User; invite?: IssuedInvite }> {
  const org = await findOrganization(tx, input.orgId);
  if (!org) throw new IdentityRefusal('not_found', 'organization_not_found', 'Organization not found');
  if (org.status === 'deleted') throw new IdentityRefusal('conflict', 'organization_deleted', 'The organization is deleted');
  const user = await refuseDuplicates(() =>
    insertUser(tx, {
      org_id: org.id,
      email: input.email.toLowerCase(),
      password_hash: input.passwordHash,
      role: input.role,
      status: input.passwordHash ? 'active' : 'pending',
      first_name: input.first_name ?? null,
      last_name: input.last_name ?? null,
      department: input.department ?? null,
      title: input.title ?? null,
    }),
  );
  const invite = input.passwordHash ? undefined : await issueInvite(tx, user, inviteTtlHours, actor.actorId);
  await audit(tx, actor, {
    orgId: org.id,
    action: 'user.created',
    targetType: 'user',
    targetId: user.id,
    metadata: { email: user.email, role: user.role, status: user.status, invited: Boolean(invite) },
  });
  return { user, invite };
}

export interface MemberChanges extends ProfileFields {
  role?: Exclude<Role, 'superadmin'>;
  status?: Extract<UserStatus, 'active' | 'suspended'>;
}

type ChangeSet = Record<string, { from: unknown; to: unknown }>;

function diff(user: User, changes: object): ChangeSet {
  const set: ChangeSet = {};
  for (const [field, to] of Object.entries(changes)) {
    const from = user.get(field);
    if (to !== undefined && from !== to) set[field] = { from, to };
  }
  return set;
}

/** The new values of a change set, as the row is written with them. */
const valuesOf = (changed: ChangeSet) => Object.fromEntries(Object.entries(changed).map(([field, { to }]) => [field, to])) as UserChangeValues;

function assertEditable(user: User): void {
  if (user.role === 'superadmin') throw new IdentityRefusal('forbidden', 'superadmin_immutable', 'A superadmin cannot be changed here');
}

/**
 * An admin's (or superadmin's) change to a member: profile, role, status. Role or status changes revoke the member's
 * tokens (the caller clears the cache after commit: `tokensRevoked`). Audited as one `user.updated` entry.
 */
export async function updateMember(tx: Transaction, user: User, changes: MemberChanges, actor: Actor): Promise<{ user: User; tokensRevoked: boolean }> {
  assertEditable(user);
  if (user.status === 'inactive') throw new IdentityRefusal('conflict', 'user_inactive', 'The user is deleted');
  if (changes.status === 'active' && user.status === 'pending') throw new IdentityRefusal('conflict', 'user_pending', 'A pending user becomes active by accepting an invite');
  const changed = diff(user, changes);
  if (!Object.keys(changed).length) return { user, tokensRevoked: false };
  const losesAdmin = (changed['role'] && changes.role !== 'admin') || (changed['status'] && changes.status !== 'active');
  if (losesAdmin) await assertAnotherActiveAdmin(tx, user);
  const tokensRevoked = Boolean(changed['role'] || changed['status']);
  await saveUserChanges(tx, user, valuesOf(changed));
  if (tokensRevoked) {
    await revokeUserTokens(tx, user.id);
    await reloadUser(tx, user);
  }
  await audit(tx, actor, { orgId: user.org_id, action: 'user.updated', targetType: 'user', targetId: user.id, metadata: { changes: changed } });
  return { user, tokensRevoked };
}

/** Soft delete: status `inactive`, tokens and pending invites revoked, audited. Deleting a deleted user changes nothing. */
export async function deactivateMember(tx: Transaction, user: User, actor: Actor): Promise<{ tokensRevoked: boolean }> {
  assertEditable(user);
  if (user.status === 'inactive') return { tokensRevoked: false };
  await assertAnotherActiveAdmin(tx, user);
  const previous = user.status;
  await markUserInactive(tx, user);
  await revokeUserTokens(tx, user.id);
  await revokeInvites(tx, user.id);
  await audit(tx, actor, { orgId: user.org_id, action: 'user.deleted', targetType: 'user', targetId: user.id, metadata: { previous_status: previous } });
  return { tokensRevoked: true };
}

/** (Re)issues the invite of a pending user, revoking earlier ones; audited as `user.invited`. */
export async function reinviteMember(tx: Transaction, user: User, actor: Actor, inviteTtlHours: number): Promise<IssuedInvite> {
  assertEditable(user);
  if (user.status !== 'pending') throw new IdentityRefusal('conflict', 'user_not_pending', 'Only a pending user can be invited');
  const invite = await issueInvite(tx, user, inviteTtlHours, actor.actorId);
  await audit(tx, actor, { orgId: user.org_id, action: 'user.invited', targetType: 'user', targetId: user.id, metadata: { expires_at: invite.expires_at } });
  return invite;
}

/** A user's change to their own profile and, with the current password checked by the caller, their password. */
export async function updateOwnProfile(
  tx: Transaction,
  user: User,
  changes: ProfileFields & { passwordHash?: string },
  actor: Actor,
): Promise<{ user: User; tokensRevoked: boolean }> {
  const { passwordHash, ...profile } = changes;
  const changed = diff(user, profile);
  if (Object.keys(changed).length) {
    await saveUserChanges(tx, user, valuesOf(changed));
    await audit(tx, actor, { orgId: user.org_id, action: 'user.updated', targetType: 'user', targetId: user.id, metadata: { changes: changed } });
  }
  if (passwordHash) {
    await setUserPassword(tx, user, passwordHash);
    await revokeUserTokens(tx, user.id);
    await reloadUser(tx, user);
    await audit(tx, actor, { orgId: user.org_id, action: 'user.password_changed', targetType: 'user', targetId: user.id });
  }
  return { user, tokensRevoked: Boolean(passwordHash) };
}

/** Sets the password of the invite's pending user and activates them; audited as `user.activated` by the user. */
export async function activateMember(tx: Transaction, user: User, passwordHash: string, actor: Omit<Actor, 'actorType' | 'actorId'>): Promise<User> {
  const org = user.org_id ? await findOrganization(tx, user.org_id) : null;
  // An invite into an organization that is not active opens nothing: the same answer as any unusable token.
  if (org && org.status !== 'active') throw new IdentityRefusal('bad_request', 'invalid_invite', 'The invite token is invalid, used or expired');
  await activateUserWithPassword(tx, user, passwordHash);
  await audit(tx, { ...actor, actorType: 'user', actorId: user.id }, { orgId: user.org_id, action: 'user.activated', targetType: 'user', targetId: user.id });
  return user;
}
