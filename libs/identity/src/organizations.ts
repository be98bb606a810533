import {
  insertOrganization,
  insertUser,
  markOrganizationDeleted,
  saveOrganizationChanges,
  type Organization,
  type OrganizationChangeValues,
  type OrgStatus,
  type Transaction,
  type User,
} from '@saas/db';
import { IdentityRefusal } from './refusals';
import { audit, type Actor } from './actor';
import { refuseDuplicates } from './conflicts';
import { issueInvite, type IssuedInvite } from './invites';

export interface NewOrganization {
  name: string;
  slug: string;
  adminEmail: string;
  /** bcrypt hash of the initial admin's password; without one the admin is pending and gets an invite. */
  adminPasswordHash: string | null;
}

/**
 * Creates an organization and its first admin with both audit entries, in the caller's (system) transaction:
 * a duplicate name, slug or email throws 409 and the rollback leaves nothing behind.
 */
export async function createOrganization(
  tx: Transaction,
  input: NewOrganization,
  actor: Actor,
  inviteTtlHours: number,
): Promise<{ org: Organization; admin: User; invite?: IssuedInvite }> {
  const org = await refuseDuplicates(() => insertOrganization(tx, { name: input.name, slug: input.slug, status: 'active' }));
  const admin = await refuseDuplicates(() =>
    insertUser(tx, {
      org_id: org.id,
      email: input.adminEmail.toLowerCase(),
      password_hash: input.adminPasswordHash,
      role: 'admin',
      status: input.adminPasswordHash ? 'active' : 'pending',
    }),
  );
  const invite = input.adminPasswordHash ? undefined : await issueInvite(tx, admin, inviteTtlHours, actor.actorId);
  await audit(tx, actor, { orgId: org.id, action: 'org.created', targetType: 'organization', targetId: org.id, metadata: { name: org.name, slug: org.slug } });
  await audit(tx, actor, {
    orgId: org.id,
    action: 'user.created',
    targetType: 'user',
    targetId: admin.id,
    metadata: { email: admin.email, role: admin.role, status: admin.status, invited: Boolean(invite), initial_admin: true },
  });
  return { org, admin, invite };
}

export interface OrganizationChanges {
  name?: string;
  status?: Extract<OrgStatus, 'active' | 'suspended'>;
  /** Whether the user directory may link its entries to existing plain users (see syncExternalUsers). */
  directory_links_existing_users?: boolean;
}

/**
 * Renames, suspends or reactivates an organization and/or sets its directory policy, audited as one entry
 * (`org.suspended` when it is suspended, else `org.updated`). `statusChanged` tells the caller to clear the members'
 * cached token state.
 */
export async function updateOrganization(tx: Transaction, org: Organization, changes: OrganizationChanges, actor: Actor): Promise<{ org: Organization; statusChanged: boolean }> {
  if (org.status === 'deleted') throw new IdentityRefusal('conflict', 'organization_deleted', 'The organization is deleted');
  const changed: Record<string, { from: unknown; to: unknown }> = {};
  if (changes.name !== undefined && changes.name !== org.name) changed['name'] = { from: org.name, to: changes.name };
  if (changes.status !== undefined && changes.status !== org.status) changed['status'] = { from: org.status, to: changes.status };
  const links = changes.directory_links_existing_users;
  if (links !== undefined && links !== org.directory_links_existing_users) changed['directory_links_existing_users'] = { from: org.directory_links_existing_users, to: links };
  if (!Object.keys(changed).length) return { org, statusChanged: false };
  const values = Object.fromEntries(Object.entries(changed).map(([field, { to }]) => [field, to])) as OrganizationChangeValues;
  await refuseDuplicates(() => saveOrganizationChanges(tx, org, values));
  const action = changes.status === 'suspended' && changed['status'] ? 'org.suspended' : 'org.updated';
  await audit(tx, actor, { orgId: org.id, action, targetType: 'organization', targetId: org.id, metadata: { changes: changed } });
  return { org, statusChanged: Boolean(changed['status']) };
}

/** Soft delete: status `deleted` (logins, tokens and webhooks of its members stop). Deleting twice changes nothing. */
export async function deleteOrganization(tx: Transaction, org: Organization, actor: Actor): Promise<{ statusChanged: boolean }> {
  if (org.status === 'deleted') return { statusChanged: false };
  const previous = org.status;
  await markOrganizationDeleted(tx, org);
  await audit(tx, actor, { orgId: org.id, action: 'org.deleted', targetType: 'organization', targetId: org.id, metadata: { previous_status: previous } });
  return { statusChanged: true };
}
