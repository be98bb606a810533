import type { RequestHandler } from 'express';
import { ForbiddenError, NotFoundError, UnauthorizedError } from '@saas/http';
import { can, type Action } from './policy';
import type { Principal } from './principal';

/** The caller of an authenticated request; 401 when the authenticator did not run or found no credentials. */
export function requirePrincipal(principal: Principal | undefined): Principal {
  if (!principal) throw new UnauthorizedError();
  return principal;
}

/** Throws 403 when the caller's role may never perform `action`. */
export function assertCan(principal: Principal, action: Action): void {
  if (!can(principal.role, action)) throw new ForbiddenError();
}

/** Route guard: 403 when the caller's role may never perform `action` (declare it after the authenticator). */
export function authorize(action: Action): RequestHandler {
  return (req, _res, next) => {
    assertCan(requirePrincipal(req.principal), action);
    next();
  };
}

/**
 * The visibility rule for organization-scoped data. A superadmin sees every organization: the requested one, or
 * `null` meaning all of them. Anyone else sees only their own: asking for another answers 404, as if it did not exist.
 */
export function resolveOrgScope(principal: Principal, requestedOrgId?: string): string | null {
  if (principal.role === 'superadmin') return requestedOrgId ?? null;
  if (!principal.orgId || (requestedOrgId !== undefined && requestedOrgId !== principal.orgId)) throw new NotFoundError();
  return principal.orgId;
}
