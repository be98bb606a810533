import type { Request, RequestHandler } from 'express';
import { type SecretBox } from '@saas/auth';
import { Joi, type WebhookGatewayConfig } from '@saas/config';
import { INTEGRATION_SERVICES, type IntegrationService } from '@saas/contracts';
import { isUuid, keysetCursor, keysetOf, limitParam, listIntegrationSources, pageOf, type KeysetCursor, type Transaction } from '@saas/db';
import { ApiRouter, ValidationError } from '@saas/http';
import { authorize, requirePrincipal, resolveOrgScope } from '@saas/rbac';
import type { ServiceRuntime } from '@saas/runtime';
import type { SourceRegistry } from './registry';
import { createSource, deleteSource, findSource, rotateSource, toSourceResource, updateSource, type SourceActor } from './sources';

const uuid = Joi.string().custom((value: string, helpers) => (isUuid(value) ? value.toLowerCase() : helpers.error('string.guid'))).messages({
  'string.guid': '{{#label}} must be a UUID',
});
const idParams = Joi.object({ id: uuid.required() });
const name = Joi.string().trim().min(1).max(200);
const service = Joi.string().valid(...INTEGRATION_SERVICES);
const MAX_OVERLAP_SECONDS = 7 * 24 * 3600;

const ts = Joi.string().isoDate().allow(null);
const sourceSchema = Joi.object({
  id: Joi.string().required(),
  org_id: Joi.string().required(),
  service: service.required(),
  name: Joi.string().required(),
  status: Joi.string().valid('active', 'disabled').required(),
  endpoint: Joi.string().description('POST here, signed with this source’s secret').required(),
  secret_rotated_at: ts,
  previous_secret_expires_at: ts.description('until then the secret before the last rotation verifies too'),
  created_at: ts,
  updated_at: ts,
}).label('IntegrationSource');
const createdSchema = sourceSchema.keys({ secret: Joi.string().description('whsec_…: shown this once').required() }).label('CreatedIntegrationSource');
const rotatedSchema = Joi.object({
  secret: Joi.string().description('the new whsec_… secret: shown this once').required(),
  previous_secret_expires_at: ts.required(),
}).label('RotatedSecret');

const problems = {
  401: { description: 'Missing or invalid credentials' },
  403: { description: 'The caller’s role never may do this' },
  404: { description: 'Not found, or not visible to the caller' },
};
const invalid = { 422: { description: 'Invalid query or body' } };

function actorOf(req: Request): SourceActor {
  return { userId: requirePrincipal(req.principal).userId, requestId: String(req.id), ip: req.ip ?? null };
}

/**
 * `/integrations/sources`: an organization's webhook credentials, managed by its admins (a superadmin: any
 * organization's). Each source has its own endpoint and secret; the secret is shown on creation and rotation only.
 */
export function sourceRoutes(runtime: ServiceRuntime<WebhookGatewayConfig>, box: SecretBox, registry: SourceRegistry, authenticate: RequestHandler): ApiRouter {
  const { db } = runtime;
  /** The caller's organization scope for `org_id` (a superadmin: that one, or every organization). */
  const scopeOf = (req: Request, orgId?: string) => resolveOrgScope(requirePrincipal(req.principal), orgId);
  const inScope = <T>(scope: string | null, work: (tx: Transaction) => Promise<T>) => db.withOrgScope(scope, 'a superadmin manages integration sources', work);
  const idOf = (req: Request) => String(req.params['id']);

  const create: RequestHandler = async (req, res) => {
    const body = req.body as { service: IntegrationService; name?: string; org_id?: string };
    const orgId = scopeOf(req, body.org_id);
    if (!orgId) throw new ValidationError([{ path: 'org_id', message: 'org_id is required for a superadmin' }]);
    const { source, secret } = await db.forOrg(orgId, (tx) => createSource(tx, box, { orgId, service: body.service, name: body.name }, actorOf(req)));
    res.status(201).json({ ...toSourceResource(source), secret });
  };

  const list: RequestHandler = async (req, res) => {
    const query = req.query as unknown as { org_id?: string; service?: IntegrationService; status?: 'active' | 'disabled'; limit: number; cursor?: KeysetCursor };
    const orgScope = scopeOf(req, query.org_id);
    const rows = await inScope(orgScope, (tx) => listIntegrationSources(tx, { ...query, orgScope }));
    res.json(pageOf(rows, query.limit, keysetOf, toSourceResource));
  };

  const getOne: RequestHandler = async (req, res) => {
    const source = await inScope(scopeOf(req), (tx) => findSource(tx, idOf(req)));
    res.json(toSourceResource(source));
  };

  const update: RequestHandler = async (req, res) => {
    const source = await inScope(scopeOf(req), async (tx) => updateSource(tx, await findSource(tx, idOf(req), true), req.body, actorOf(req)));
    registry.forget(source.id);
    res.json(toSourceResource(source));
  };

  const rotate: RequestHandler = async (req, res) => {
    const { overlap_seconds: overlap } = req.body as { overlap_seconds: number };
    const { secret, previousExpiresAt } = await inScope(scopeOf(req), async (tx) => rotateSource(tx, box, await findSource(tx, idOf(req), true), overlap, actorOf(req)));
    registry.forget(idOf(req));
    res.json({ secret, previous_secret_expires_at: previousExpiresAt?.toISOString() ?? null });
  };

  const remove: RequestHandler = async (req, res) => {
    await inScope(scopeOf(req), async (tx) => deleteSource(tx, await findSource(tx, idOf(req), true), actorOf(req)));
    registry.forget(idOf(req));
    res.status(204).end();
  };

  const guards = [authenticate, authorize('integration_sources:manage')];
  const common = { security: 'bearer' as const, tags: ['integration sources'], guards };
  return new ApiRouter()
    .add({
      ...common,
      method: 'post',
      path: '/integrations/sources',
      summary: 'Create a webhook source for one service of an organization; its secret is shown this once',
      description: 'Admins: their own organization; a superadmin names `org_id`. Deliveries to the returned `endpoint` belong to this organization, whatever their payload says.',
      request: { body: Joi.object({ service: service.required(), name, org_id: uuid }).label('CreateIntegrationSource') },
      responses: { 201: { description: 'Created, with its secret', schema: createdSchema }, ...problems, 409: { description: 'organization_deleted' }, ...invalid },
      handler: create,
    })
    .add({
      ...common,
      method: 'get',
      path: '/integrations/sources',
      summary: 'List webhook sources, newest first (deleted ones are gone)',
      request: { query: Joi.object({ org_id: uuid, service, status: Joi.string().valid('active', 'disabled'), limit: limitParam, cursor: keysetCursor }) },
      responses: { 200: { description: 'A page of sources', schema: Joi.object({ items: Joi.array().items(sourceSchema), next_cursor: Joi.string().allow(null) }).label('IntegrationSourcePage') }, ...problems, ...invalid },
      handler: list,
    })
    .add({
      ...common,
      method: 'get',
      path: '/integrations/sources/:id',
      summary: 'One webhook source (never its secret)',
      request: { params: idParams },
      responses: { 200: { description: 'The source', schema: sourceSchema }, ...problems },
      handler: getOne,
    })
    .add({
      ...common,
      method: 'patch',
      path: '/integrations/sources/:id',
      summary: 'Rename, disable or re-enable a source (a disabled source’s deliveries answer 401)',
      request: { params: idParams, body: Joi.object({ name, status: Joi.string().valid('active', 'disabled') }).min(1).label('UpdateIntegrationSource') },
      responses: { 200: { description: 'The source', schema: sourceSchema }, ...problems, ...invalid },
      handler: update,
    })
    .add({
      ...common,
      method: 'post',
      path: '/integrations/sources/:id/rotate',
      summary: 'Rotate the secret: the new one is shown this once, the old one verifies for `overlap_seconds` more',
      request: {
        params: idParams,
        body: Joi.object({ overlap_seconds: Joi.number().integer().min(0).max(MAX_OVERLAP_SECONDS).default(86400) }).label('RotateIntegrationSource'),
      },
      responses: { 200: { description: 'The new secret', schema: rotatedSchema }, ...problems, ...invalid },
      handler: rotate,
    })
    .add({
      ...common,
      method: 'delete',
      path: '/integrations/sources/:id',
      summary: 'Delete a source: its secrets are erased and its endpoint answers 401; its events stay',
      request: { params: idParams },
      responses: { 204: { description: 'Deleted' }, ...problems },
      handler: remove,
    });
}
