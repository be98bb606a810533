import type { NextFunction, Request, Response } from 'express';
import { ForbiddenError, NotFoundError, UnauthorizedError } from '@saas/http';
import { authorize, can, POLICY, resolveOrgScope, type Action, type Principal } from './index';

const ORG_A = '0b9c5a4e-5b8e-4c57-9a43-3f0d2b6f6a01';
const ORG_B = '7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6';
const superadmin: Principal = { userId: 'u-s', orgId: null, role: 'superadmin', tokenId: 't1' };
const admin: Principal = { userId: 'u-a', orgId: ORG_A, role: 'admin', tokenId: 't2' };
const user: Principal = { userId: 'u-u', orgId: ORG_A, role: 'user', tokenId: 't3' };

function runGuard(action: Action, principal?: Principal): unknown {
  let passed: unknown = 'not called';
  try {
    authorize(action)({ principal } as Request, {} as Response, ((err?: unknown) => (passed = err)) as NextFunction);
  } catch (err) {
    return err;
  }
  return passed;
}

describe('policy table', () => {
  it.each([
    ['superadmin', 'orgs:create', true],
    ['admin', 'orgs:create', false],
    ['admin', 'orgs:update', true],
    ['admin', 'orgs:change_status', false],
    ['user', 'users:list', false],
    ['user', 'users:read', true],
    ['user', 'profile:update', true],
    ['admin', 'integrations:replay', true],
    ['user', 'integrations:read', false],
    ['user', 'audit:read', false],
  ] as const)('when a %s asks for %s, then can() answers %s', (role, action, expected) => {
    expect(can(role, action)).toBe(expected);
  });

  it('when any action is listed, then the superadmin may perform it', () => {
    for (const action of Object.keys(POLICY) as Action[]) expect(can('superadmin', action)).toBe(true);
  });
});

describe('authorize guard', () => {
  it('when the role allows the action, then the request goes on', () => {
    expect(runGuard('users:create', admin)).toBeUndefined();
  });

  it('when the role never allows the action, then it answers 403', () => {
    expect(runGuard('users:create', user)).toBeInstanceOf(ForbiddenError);
  });

  it('when no principal was established, then it answers 401', () => {
    expect(runGuard('profile:read')).toBeInstanceOf(UnauthorizedError);
  });
});

describe('resolveOrgScope', () => {
  it('when a superadmin names no organization, then the scope is every organization (null)', () => {
    expect(resolveOrgScope(superadmin)).toBeNull();
  });

  it('when a superadmin names an organization, then the scope is that organization', () => {
    expect(resolveOrgScope(superadmin, ORG_B)).toBe(ORG_B);
  });

  it('when an admin or user names no organization or their own, then the scope is their own', () => {
    expect(resolveOrgScope(admin)).toBe(ORG_A);
    expect(resolveOrgScope(user, ORG_A)).toBe(ORG_A);
  });

  it('when an admin names another organization, then it answers 404', () => {
    expect(() => resolveOrgScope(admin, ORG_B)).toThrow(NotFoundError);
  });
});
