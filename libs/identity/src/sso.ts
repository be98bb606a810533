import type { SecretBox } from '@saas/auth';
import {
  bindUserToSsoSubject,
  clearSsoBindings,
  deleteSsoConnection,
  findSsoEnforcement,
  insertSsoConnection,
  insertUser,
  isUniqueViolation,
  lockOrganizationUserByEmail,
  lockSsoConnection,
  lockUserBySsoSubject,
  updateSsoConnection,
  type Organization,
  type SsoConnection,
  type Transaction,
  type User,
} from '@saas/db';
import { IdentityRefusal } from './refusals';
import { audit, type Actor } from './actor';

/**
 * Single sign-on (OIDC) per organization: its connection, and what a verified login does to the organization's users.
 * An IdP identity (`sub`) signs in as one user of the organization: the one bound to it, else the one with its email
 * (then bound to it; a pending user becomes active), else — with just-in-time provisioning — a new active user.
 * Bindings are only valid for the issuer that made them: changing the issuer or removing the connection clears them.
 */
export interface SsoConnectionSettings {
  issuer: string;
  client_id: string;
  /** Omitted: the stored secret is kept. */
  client_secret?: string;
  allowed_domains: string[];
  jit_provisioning: boolean;
  enforce_sso: boolean;
}

const iso = (date: Date | null | undefined) => (date ? new Date(date).toISOString() : null);

/** The public shape of a connection: never its secret, not even encrypted. */
export function toSsoConnectionResource(connection: SsoConnection) {
  return {
    org_id: connection.org_id,
    issuer: connection.issuer,
    client_id: connection.client_id,
    allowed_domains: connection.allowed_domains,
    jit_provisioning: connection.jit_provisioning,
    enforce_sso: connection.enforce_sso,
    created_at: iso(connection.created_at),
    updated_at: iso(connection.updated_at),
  };
}

/**
 * Creates or replaces the organization's connection (the caller has locked the organization row and checked the
 * issuer). The client secret is sealed to the organization id. Audited `org.sso.configured`, without the secret.
 */
export async function saveSsoConnection(tx: Transaction, org: Organization, settings: SsoConnectionSettings, box: SecretBox, actor: Actor): Promise<SsoConnection> {
  if (org.status === 'deleted') throw new IdentityRefusal('conflict', 'organization_deleted', 'The organization is deleted');
  const existing = await lockSsoConnection(tx, org.id);
  const { client_secret: secret, ...fields } = settings;
  if (!existing && secret === undefined) {
    throw new IdentityRefusal('invalid', 'validation_failed', 'The request is not valid', [{ path: 'client_secret', message: 'client_secret is required to create a connection' }]);
  }
  const values = { ...fields, ...(secret === undefined ? {} : { client_secret_ciphertext: box.seal(secret, org.id) }) };
  const bindingsCleared = existing && existing.issuer !== fields.issuer ? await clearSsoBindings(tx, org.id) : 0;
  const connection = existing ? await updateSsoConnection(tx, existing, values) : await insertSsoConnection(tx, org.id, values);
  await audit(tx, actor, {
    orgId: org.id,
    action: 'org.sso.configured',
    targetType: 'organization',
    targetId: org.id,
    metadata: { ...fields, created: !existing, secret_changed: secret !== undefined, bindings_cleared: bindingsCleared },
  });
  return connection;
}

/** Removes the organization's connection and its users' bindings; audited `org.sso.removed`. 404 when there is none. */
export async function removeSsoConnection(tx: Transaction, orgId: string, actor: Actor): Promise<void> {
  const removed = await deleteSsoConnection(tx, orgId);
  if (!removed) throw new IdentityRefusal('not_found', 'sso_not_configured', 'The organization has no single sign-on connection');
  const bindingsCleared = await clearSsoBindings(tx, orgId);
  await audit(tx, actor, { orgId, action: 'org.sso.removed', targetType: 'organization', targetId: orgId, metadata: { bindings_cleared: bindingsCleared } });
}

/** Whether `user` must sign in through their organization's SSO: password logins and invite activations are refused. */
export async function ssoRequiredFor(tx: Transaction, user: Pick<User, 'org_id' | 'role'>): Promise<boolean> {
  if (!user.org_id || user.role === 'superadmin') return false;
  return findSsoEnforcement(tx, user.org_id);
}

export type SsoRefusalReason =
  | 'organization_not_active'
  | 'email_not_verified'
  | 'email_domain_not_allowed'
  | 'user_not_active'
  | 'email_bound_to_another_identity'
  | 'email_of_another_account'
  | 'no_account';

/** Every refused SSO login answers the same 401; `reason` is for the audit log and the service log only. */
export class SsoLoginRefusedError extends IdentityRefusal {
  constructor(readonly reason: SsoRefusalReason) {
    super('unauthorized', 'sso_login_failed', 'Single sign-on failed');
  }
}

/** What the identity provider asserted, from an ID token whose signature, issuer, audience, expiry and nonce were verified. */
export interface VerifiedIdentity {
  sub: string;
  email?: unknown;
  email_verified?: unknown;
  given_name?: unknown;
  family_name?: unknown;
}

const domainOf = (email: string) => email.slice(email.lastIndexOf('@') + 1);
const optionalText = (value: unknown) => (typeof value === 'string' && value.trim() ? value.trim().slice(0, 100) : null);

/**
 * Signs a verified identity in as a user of the organization (a transaction in the organization's context, org row
 * not deleted): binds, activates or provisions as the module comment says, and audits it (`user.activated` or
 * `user.created` with `method: "sso"`, then `user.sso_login`). Anything else throws SsoLoginRefusedError, and the
 * rolled-back transaction leaves everything as it was.
 */
export async function signInWithSso(
  tx: Transaction,
  org: Organization,
  connection: SsoConnection,
  identity: VerifiedIdentity,
  request: Omit<Actor, 'actorType' | 'actorId'>,
): Promise<User> {
  if (org.status !== 'active') throw new SsoLoginRefusedError('organization_not_active');
  if (identity.email_verified !== true) throw new SsoLoginRefusedError('email_not_verified');
  const email = typeof identity.email === 'string' ? identity.email.toLowerCase() : '';
  if (!email.includes('@') || !connection.allowed_domains.includes(domainOf(email))) throw new SsoLoginRefusedError('email_domain_not_allowed');

  const bound = await lockUserBySsoSubject(tx, org.id, identity.sub);
  const byEmail = bound ? null : await lockOrganizationUserByEmail(tx, org.id, email);
  if (byEmail?.sso_subject) throw new SsoLoginRefusedError('email_bound_to_another_identity');
  const existing = bound ?? byEmail;
  const asUser = (user: User): Actor => ({ ...request, actorType: 'user', actorId: user.id });

  let user: User;
  if (existing) {
    if (existing.status !== 'active' && existing.status !== 'pending') throw new SsoLoginRefusedError('user_not_active');
    user = existing;
    if (!bound) {
      const activating = user.status === 'pending';
      await bindUserToSsoSubject(tx, user, identity.sub);
      if (activating) await audit(tx, asUser(user), { orgId: org.id, action: 'user.activated', targetType: 'user', targetId: user.id, metadata: { method: 'sso' } });
    }
  } else {
    if (!connection.jit_provisioning) throw new SsoLoginRefusedError('no_account');
    user = await provision(tx, org, identity, email);
    await audit(tx, asUser(user), {
      orgId: org.id,
      action: 'user.created',
      targetType: 'user',
      targetId: user.id,
      metadata: { email: user.email, role: user.role, status: user.status, method: 'sso' },
    });
  }
  await audit(tx, asUser(user), { orgId: org.id, action: 'user.sso_login', targetType: 'user', targetId: user.id, metadata: { issuer: connection.issuer, bound: !bound } });
  return user;
}

/** A new active user for the identity; its email held by an account elsewhere (another organization, a superadmin) refuses. */
async function provision(tx: Transaction, org: Organization, identity: VerifiedIdentity, email: string): Promise<User> {
  try {
    return await insertUser(tx, {
      org_id: org.id,
      email,
      role: 'user',
      status: 'active',
      sso_subject: identity.sub,
      first_name: optionalText(identity.given_name),
      last_name: optionalText(identity.family_name),
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new SsoLoginRefusedError('email_of_another_account');
    throw err;
  }
}
