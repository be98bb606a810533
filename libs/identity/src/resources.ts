import type { AuditLog, Organization, User } from '@saas/db';

const iso = (date: Date | null | undefined) => (date ? new Date(date).toISOString() : null);

/** What the public shape of a user is made of: a model instance, or a row read as it is (`findOwnProfile`). */
export type UserRecord = Pick<
  User,
  'id' | 'org_id' | 'email' | 'first_name' | 'last_name' | 'role' | 'status' | 'department' | 'title' | 'external_id' | 'created_at' | 'updated_at'
>;

/** The public shape of a user (docs/API.md "Resources"): never the password hash nor the token version. */
export function toUserResource(user: UserRecord) {
  return {
    id: user.id,
    org_id: user.org_id,
    email: user.email,
    first_name: user.first_name,
    last_name: user.last_name,
    role: user.role,
    status: user.status,
    department: user.department,
    title: user.title,
    external_id: user.external_id,
    created_at: iso(user.created_at),
    updated_at: iso(user.updated_at),
  };
}
export type UserResource = ReturnType<typeof toUserResource>;

export function toOrgResource(org: Organization) {
  return {
    id: org.id,
    name: org.name,
    slug: org.slug,
    status: org.status,
    directory_links_existing_users: org.directory_links_existing_users,
    created_at: iso(org.created_at),
    updated_at: iso(org.updated_at),
  };
}
export type OrgResource = ReturnType<typeof toOrgResource>;

export function toAuditResource(entry: AuditLog) {
  return {
    id: entry.id,
    org_id: entry.org_id,
    actor_type: entry.actor_type,
    actor_id: entry.actor_id,
    action: entry.action,
    target_type: entry.target_type,
    target_id: entry.target_id,
    request_id: entry.request_id,
    ip: entry.ip,
    metadata: entry.metadata,
    created_at: iso(entry.created_at),
    prev_hash: entry.prev_hash,
    hash: entry.hash,
  };
}
