import type { RequestHandler } from 'express';
import { Joi } from '@saas/config';
import { findOrganization, keysetCursor, listOrganizationsPage, lockOrganization, pageOf, type KeysetCursor } from '@saas/db';
import { ApiRouter, NotFoundError } from '@saas/http';
import { createOrganization, deleteOrganization, hashPassword, toOrgResource, toUserResource, updateOrganization, type OrganizationChanges } from '@saas/identity';
import { assertCan, authorize, resolveOrgScope } from '@saas/rbac';
import { actorOf, principalOf, type IdentityContext } from '../context';
import { authProblems, email, idParams, invalid, limit, newPasswordSchema, notFound, orgResource, page } from '../schemas';

const name = Joi.string().trim().min(1).max(200);
const slug = Joi.string()
  .pattern(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/)
  .messages({ 'string.pattern.base': '{{#label}} must be 1-63 lowercase letters, digits or inner hyphens' });

const createBody = Joi.object({
  name: name.required(),
  slug: slug.required(),
  initial_admin_email: email.required(),
  initial_admin_password: newPasswordSchema,
}).label('CreateOrganizationRequest');

const createdOrg = orgResource
  .keys({
    initial_admin: Joi.object({ id: Joi.string(), email: Joi.string(), role: Joi.string(), status: Joi.string() }),
    invite_token: Joi.string(),
    invite_expires_at: Joi.string().isoDate(),
  })
  .label('CreatedOrganization');

const updateBody = Joi.object({
  name,
  status: Joi.string().valid('active', 'suspended'),
  directory_links_existing_users: Joi.boolean(),
}).label('UpdateOrganizationRequest');

const listQuery = Joi.object({
  status: Joi.string().valid('active', 'suspended', 'deleted'),
  q: Joi.string().trim().min(1).max(200),
  limit,
  cursor: keysetCursor,
});

export function organizationRoutes(ctx: IdentityContext): ApiRouter {
  const { db } = ctx.runtime;
  const { authenticate } = ctx;

  const create: RequestHandler = async (req, res) => {
    const body = req.body as { name: string; slug: string; initial_admin_email: string; initial_admin_password?: string };
    const adminPasswordHash = body.initial_admin_password ? await hashPassword(body.initial_admin_password, ctx.config.BCRYPT_COST) : null;
    const { org, admin, invite } = await db.asSystem('a superadmin creates an organization', (tx) =>
      createOrganization(tx, { name: body.name, slug: body.slug, adminEmail: body.initial_admin_email, adminPasswordHash }, actorOf(req), ctx.config.INVITE_TTL_HOURS),
    );
    const { id, email: adminEmail, role, status } = toUserResource(admin);
    res.status(201).json({
      ...toOrgResource(org),
      initial_admin: { id, email: adminEmail, role, status },
      ...(invite ? { invite_token: invite.invite_token, invite_expires_at: invite.expires_at } : {}),
    });
  };

  const list: RequestHandler = async (req, res) => {
    const query = req.query as unknown as { status?: string; q?: string; limit: number; cursor?: KeysetCursor };
    const rows = await db.asSystem('a superadmin lists organizations', (tx) =>
      listOrganizationsPage(tx, { status: query.status, q: query.q }, query.cursor, query.limit),
    );
    res.json(pageOf(rows, query.limit, (o) => ({ ts: o.get('cursor_ts'), id: o.id }), toOrgResource));
  };

  /** The organization `id` as the caller may see it: a superadmin any, everyone else only their own (else 404). */
  const visibleScope = (req: Parameters<RequestHandler>[0]) => resolveOrgScope(principalOf(req), String(req.params['id'])) ?? String(req.params['id']);

  const getOne: RequestHandler = async (req, res) => {
    const id = visibleScope(req);
    const org = await db.forOrg(id, (tx) => findOrganization(tx, id));
    if (!org) throw new NotFoundError('organization_not_found', 'Organization not found');
    res.json(toOrgResource(org));
  };

  const update: RequestHandler = async (req, res) => {
    const changes = req.body as OrganizationChanges;
    if (changes.status !== undefined) assertCan(principalOf(req), 'orgs:change_status');
    const id = visibleScope(req);
    const { org, statusChanged } = await db.forOrg(id, async (tx) => {
      const found = await lockOrganization(tx, id);
      if (!found) throw new NotFoundError('organization_not_found', 'Organization not found');
      return updateOrganization(tx, found, changes, actorOf(req));
    });
    if (statusChanged) await ctx.invalidate({ orgId: org.id });
    res.json(toOrgResource(org));
  };

  const remove: RequestHandler = async (req, res) => {
    const id = visibleScope(req);
    const { statusChanged } = await db.forOrg(id, async (tx) => {
      const found = await lockOrganization(tx, id);
      if (!found) throw new NotFoundError('organization_not_found', 'Organization not found');
      return deleteOrganization(tx, found, actorOf(req));
    });
    if (statusChanged) await ctx.invalidate({ orgId: id });
    res.status(204).end();
  };

  const common = { tags: ['organizations'], security: 'bearer' as const };
  return new ApiRouter()
    .add({
      ...common,
      method: 'post',
      path: '/orgs',
      summary: 'Create an organization with its first admin (atomic)',
      description: 'Without `initial_admin_password` the admin is pending and `invite_token` is returned once. A duplicate name, slug or email answers 409 and writes nothing.',
      guards: [authenticate, authorize('orgs:create')],
      request: { body: createBody },
      responses: { 201: { description: 'Created', schema: createdOrg }, ...authProblems, 409: { description: 'name_taken, slug_taken, email_taken' }, ...invalid },
      handler: create,
    })
    .add({
      ...common,
      method: 'get',
      path: '/orgs',
      summary: 'List organizations',
      guards: [authenticate, authorize('orgs:list')],
      request: { query: listQuery },
      responses: { 200: { description: 'A page of organizations', schema: page(orgResource, 'OrganizationPage') }, ...authProblems, ...invalid },
      handler: list,
    })
    .add({
      ...common,
      method: 'get',
      path: '/orgs/:id',
      summary: 'One organization (admins and users: their own)',
      guards: [authenticate, authorize('orgs:read')],
      request: { params: idParams },
      responses: { 200: { description: 'The organization', schema: orgResource }, ...authProblems, ...notFound },
      handler: getOne,
    })
    .add({
      ...common,
      method: 'patch',
      path: '/orgs/:id',
      summary: 'Rename or set the directory policy (superadmin, own admin), suspend/reactivate (superadmin) an organization',
      description:
        "Suspending blocks the organization's logins, tokens and webhooks at once. `directory_links_existing_users` lets the user directory link an entry to an existing account with its email (plain users only; admins never).",
      guards: [authenticate, authorize('orgs:update')],
      request: { params: idParams, body: updateBody },
      responses: { 200: { description: 'The updated organization', schema: orgResource }, ...authProblems, ...notFound, 409: { description: 'organization_deleted, name_taken' }, ...invalid },
      handler: update,
    })
    .add({
      ...common,
      method: 'delete',
      path: '/orgs/:id',
      summary: 'Soft-delete an organization (status deleted)',
      guards: [authenticate, authorize('orgs:delete')],
      request: { params: idParams },
      responses: { 204: { description: 'Deleted' }, ...authProblems, ...notFound },
      handler: remove,
    });
}
