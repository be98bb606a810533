import type { PrincipalRole } from './principal';

/**
 * Everything a caller may ask for, one name per kind of action. Whether the caller may act on a particular
 * resource (their own organization, themself) is the visibility rule, checked separately (resolveOrgScope).
 */
export type Action =
  | 'profile:read'
  | 'profile:update'
  | 'users:create'
  | 'users:list'
  | 'users:read'
  | 'users:update'
  | 'users:delete'
  | 'users:invite'
  | 'orgs:create'
  | 'orgs:list'
  | 'orgs:read'
  | 'orgs:update'
  | 'orgs:change_status'
  | 'orgs:delete'
  | 'orgs:configure_sso'
  | 'audit:read'
  | 'audit:verify'
  | 'integrations:read'
  | 'integrations:replay'
  | 'integration_sources:manage'
  | 'subscriptions:read'
  | 'communication_logs:read';

const ALL: readonly PrincipalRole[] = ['superadmin', 'admin', 'user'];
const ADMINS: readonly PrincipalRole[] = ['superadmin', 'admin'];
const SUPERADMIN: readonly PrincipalRole[] = ['superadmin'];

/** The policy table: which roles may ever perform each action (docs/API.md "Roles"). */
export const POLICY: Readonly<Record<Action, readonly PrincipalRole[]>> = {
  'profile:read': ALL,
  'profile:update': ALL,
  'users:create': ADMINS,
  'users:list': ADMINS,
  // a user may read themself; which users are visible is the visibility rule's business
  'users:read': ALL,
  'users:update': ADMINS,
  'users:delete': ADMINS,
  'users:invite': ADMINS,
  'orgs:create': SUPERADMIN,
  'orgs:list': SUPERADMIN,
  'orgs:read': ALL,
  'orgs:update': ADMINS,
  'orgs:change_status': SUPERADMIN,
  'orgs:delete': SUPERADMIN,
  'orgs:configure_sso': ADMINS,
  'audit:read': ADMINS,
  'audit:verify': ADMINS,
  'integrations:read': ADMINS,
  'integrations:replay': ADMINS,
  'integration_sources:manage': ADMINS,
  'subscriptions:read': ADMINS,
  'communication_logs:read': ADMINS,
};

export function can(role: PrincipalRole, action: Action): boolean {
  return POLICY[action].includes(role);
}
