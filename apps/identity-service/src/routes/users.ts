import type { Request, RequestHandler } from 'express';
import { Joi } from '@saas/config';
import { findUser, keysetCursor, listUsersPage, lockUser, pageOf, type Transaction, type User, type UserListQuery } from '@saas/db';
import { ApiRouter, BadRequestError, ForbiddenError, NotFoundError, ValidationError } from '@saas/http';
import {
  createMember,
  deactivateMember,
  findOwnProfile,
  hashPassword,
  presentedPasswordSchema,
  reinviteMember,
  toUserResource,
  updateMember,
  updateOwnProfile,
  type MemberChanges,
  type NewMember,
  type ProfileFields,
} from '@saas/identity';
import { authorize, resolveOrgScope, type Principal } from '@saas/rbac';
import { actorOf, principalOf, type IdentityContext } from '../context';
import { authProblems, email, idParams, inviteResponse, invalid, limit, newPasswordSchema, notFound, page, profileFields, userResource, uuid } from '../schemas';

/** A superadmin works across organizations; everyone else inside their own. */
const scopeOf = (p: Principal) => (p.role === 'superadmin' ? null : p.orgId);

/** The visibility rule for one user: admins see their organization, users only themselves; anything else is 404. */
async function findVisibleUser(tx: Transaction, p: Principal, id: string, lock = false): Promise<User> {
  const user = await (lock ? lockUser(tx, id) : findUser(tx, id));
  const visible = user && (p.role === 'superadmin' || (user.org_id === p.orgId && (p.role === 'admin' || user.id === p.userId)));
  if (!visible) throw new NotFoundError('user_not_found', 'User not found');
  return user;
}

const createBody = Joi.object({
  org_id: uuid,
  email: email.required(),
  password: newPasswordSchema,
  role: Joi.string().valid('user', 'admin', 'superadmin').default('user'),
  ...profileFields,
}).label('CreateUserRequest');

const updateBody = Joi.object({
  ...profileFields,
  role: Joi.string().valid('user', 'admin'),
  status: Joi.string().valid('active', 'suspended'),
}).label('UpdateUserRequest');

const updateMeBody = Joi.object({
  ...profileFields,
  current_password: presentedPasswordSchema,
  new_password: newPasswordSchema,
})
  .with('new_password', 'current_password')
  .with('current_password', 'new_password')
  .label('UpdateProfileRequest');

const listQuery = Joi.object({
  org_id: uuid,
  status: Joi.string().valid('pending', 'active', 'suspended', 'inactive'),
  role: Joi.string().valid('superadmin', 'admin', 'user'),
  q: Joi.string().trim().min(1).max(200),
  limit,
  cursor: keysetCursor,
});

// `GET /users`'s statement, where bench/scale reads it to measure what the endpoint sends.

const createdUser = userResource.keys({ invite_token: Joi.string(), invite_expires_at: Joi.string().isoDate() }).label('CreatedUser');

export function userRoutes(ctx: IdentityContext): ApiRouter {
  const { db } = ctx.runtime;
  const { authenticate } = ctx;
  const { throttle } = ctx;
  const self = (req: Request, tx: Transaction, lock = false) => findVisibleUser(tx, principalOf(req), principalOf(req).userId, lock);

  const getMe: RequestHandler = async (req, res) => {
    const p = principalOf(req);
    const profile = await findOwnProfile(db, p.userId, p.orgId);
    if (!profile) throw new NotFoundError('user_not_found', 'User not found');
    res.json(profile);
  };

  const updateMe: RequestHandler = async (req, res) => {
    const p = principalOf(req);
    const { current_password: currentPassword, new_password: newPassword, ...profile } = req.body as ProfileFields & { current_password?: string; new_password?: string };
    let passwordHash: string | undefined;
    if (newPassword !== undefined && currentPassword !== undefined) {
      const current = await db.withOrgScope(p.orgId, 'a superadmin reads their own profile', (tx) => self(req, tx));
      // Guessing the current password with a stolen token counts against the account like failed logins do.
      const attempt = await throttle.reserve(current.email, req.ip ?? 'unknown');
      if (!(await ctx.verifyPassword(currentPassword, current.password_hash))) {
        throw new BadRequestError('invalid_current_password', 'The current password is not correct');
      }
      await attempt.release();
      passwordHash = await hashPassword(newPassword, ctx.config.BCRYPT_COST);
    }
    const { user, tokensRevoked } = await db.withOrgScope(p.orgId, 'a superadmin updates their own profile', async (tx) =>
      updateOwnProfile(tx, await self(req, tx, true), { ...profile, passwordHash }, actorOf(req)),
    );
    if (tokensRevoked) await ctx.invalidate({ userId: user.id });
    res.json(toUserResource(user));
  };

  const create: RequestHandler = async (req, res) => {
    const p = principalOf(req);
    const { org_id: requestedOrg, password, role, ...rest } = req.body as Omit<NewMember, 'orgId' | 'passwordHash' | 'role'> & {
      org_id?: string;
      password?: string;
      role: NewMember['role'] | 'superadmin';
    };
    if (role === 'superadmin') throw new ForbiddenError('role_not_allowed', 'Superadmins are not created through the API');
    if (p.role === 'superadmin' && !requestedOrg) throw new ValidationError([{ path: 'org_id', message: 'org_id is required' }]);
    const orgId = resolveOrgScope(p, requestedOrg);
    if (!orgId) throw new NotFoundError('organization_not_found', 'Organization not found');
    const passwordHash = password ? await hashPassword(password, ctx.config.BCRYPT_COST) : null;
    const { user, invite } = await db.forOrg(orgId, (tx) =>
      createMember(tx, { ...rest, orgId, role, passwordHash }, actorOf(req), ctx.config.INVITE_TTL_HOURS),
    );
    res.status(201).json({ ...toUserResource(user), ...(invite ? { invite_token: invite.invite_token, invite_expires_at: invite.expires_at } : {}) });
  };

  const list: RequestHandler = async (req, res) => {
    const p = principalOf(req);
    const query = req.query as unknown as Omit<UserListQuery, 'orgId'> & { org_id?: string };
    const scope = resolveOrgScope(p, query.org_id);
    const rows = await db.withOrgScope(scope, 'a superadmin lists users of every organization', (tx) => listUsersPage(tx, { ...query, orgId: scope }));
    res.json(pageOf(rows, query.limit, (u) => ({ ts: u.cursor_ts, id: u.id }), toUserResource));
  };

  const getOne: RequestHandler = async (req, res) => {
    const p = principalOf(req);
    const user = await db.withOrgScope(scopeOf(p), 'a superadmin reads a user of any organization', (tx) => findVisibleUser(tx, p, String(req.params['id'])));
    res.json(toUserResource(user));
  };

  const update: RequestHandler = async (req, res) => {
    const p = principalOf(req);
    const { user, tokensRevoked } = await db.withOrgScope(scopeOf(p), 'a superadmin updates a user of any organization', async (tx) =>
      updateMember(tx, await findVisibleUser(tx, p, String(req.params['id']), true), req.body as MemberChanges, actorOf(req)),
    );
    if (tokensRevoked) await ctx.invalidate({ userId: user.id });
    res.json(toUserResource(user));
  };

  const remove: RequestHandler = async (req, res) => {
    const p = principalOf(req);
    const id = String(req.params['id']);
    const { tokensRevoked } = await db.withOrgScope(scopeOf(p), 'a superadmin deletes a user of any organization', async (tx) => {
      const user = await findVisibleUser(tx, p, id, true);
      if (user.id === p.userId) throw new ForbiddenError('cannot_delete_self', 'You cannot delete your own account');
      return deactivateMember(tx, user, actorOf(req));
    });
    if (tokensRevoked) await ctx.invalidate({ userId: id });
    res.status(204).end();
  };

  const invite: RequestHandler = async (req, res) => {
    const p = principalOf(req);
    const issued = await db.withOrgScope(scopeOf(p), 'a superadmin invites a user of any organization', async (tx) =>
      reinviteMember(tx, await findVisibleUser(tx, p, String(req.params['id']), true), actorOf(req), ctx.config.INVITE_TTL_HOURS),
    );
    res.status(201).json(issued);
  };

  const common = { tags: ['users'], security: 'bearer' as const };
  return new ApiRouter()
    .add({
      ...common,
      method: 'get',
      path: '/users/me',
      summary: 'Your own profile',
      guards: [authenticate, authorize('profile:read')],
      responses: { 200: { description: 'The caller', schema: userResource }, 401: authProblems[401] },
      handler: getMe,
    })
    .add({
      ...common,
      method: 'patch',
      path: '/users/me',
      summary: 'Update your profile or change your password',
      description: 'A password change needs `current_password` and `new_password` and revokes every token issued before it. Any other field answers 422.',
      guards: [authenticate, authorize('profile:update')],
      request: { body: updateMeBody },
      responses: {
        200: { description: 'The updated profile', schema: userResource },
        400: { description: 'invalid_current_password' },
        401: authProblems[401],
        ...invalid,
        429: { description: 'Too many wrong current passwords' },
      },
      handler: updateMe,
    })
    .add({
      ...common,
      method: 'post',
      path: '/users',
      summary: 'Create a user (with a password: active; without: pending with an invite)',
      guards: [authenticate, authorize('users:create')],
      request: { body: createBody },
      responses: {
        201: { description: 'Created; `invite_token` is shown once', schema: createdUser },
        ...authProblems,
        ...notFound,
        409: { description: 'email_taken' },
        ...invalid,
      },
      handler: create,
    })
    .add({
      ...common,
      method: 'get',
      path: '/users',
      summary: 'List users (superadmin: every organization, or ?org_id=)',
      guards: [authenticate, authorize('users:list')],
      request: { query: listQuery },
      responses: { 200: { description: 'A page of users', schema: page(userResource, 'UserPage') }, ...authProblems, ...invalid },
      handler: list,
    })
    .add({
      ...common,
      method: 'get',
      path: '/users/:id',
      summary: 'One user (admins: their organization; users: themselves)',
      guards: [authenticate, authorize('users:read')],
      request: { params: idParams },
      responses: { 200: { description: 'The user', schema: userResource }, ...authProblems, ...notFound },
      handler: getOne,
    })
    .add({
      ...common,
      method: 'patch',
      path: '/users/:id',
      summary: "Update a user's profile, role or status",
      description: 'Role or status changes revoke the user\'s tokens. The last active admin of an organization cannot be demoted or suspended (409).',
      guards: [authenticate, authorize('users:update')],
      request: { params: idParams, body: updateBody },
      responses: { 200: { description: 'The updated user', schema: userResource }, ...authProblems, ...notFound, 409: { description: 'last_active_admin, user_inactive, user_pending' }, ...invalid },
      handler: update,
    })
    .add({
      ...common,
      method: 'delete',
      path: '/users/:id',
      summary: 'Soft-delete a user (status inactive, tokens revoked)',
      guards: [authenticate, authorize('users:delete')],
      request: { params: idParams },
      responses: { 204: { description: 'Deleted' }, ...authProblems, ...notFound, 409: { description: 'last_active_admin' } },
      handler: remove,
    })
    .add({
      ...common,
      method: 'post',
      path: '/users/:id/invite',
      summary: '(Re)issue the invite of a pending user',
      guards: [authenticate, authorize('users:invite')],
      request: { params: idParams },
      responses: { 201: { description: 'The invite; the token is shown once', schema: inviteResponse }, ...authProblems, ...notFound, 409: { description: 'user_not_pending' } },
      handler: invite,
    });
}
