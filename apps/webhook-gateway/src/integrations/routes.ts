import type { Request, RequestHandler } from 'express';
import type { WebhookGatewayConfig } from '@saas/config';
import { Joi } from '@saas/config';
import { INTEGRATION_SERVICES, PLANS, SUBSCRIPTION_STATUSES, WEBHOOK_EVENT_STATUSES } from '@saas/contracts';
import {
  countDeadLetters,
  findWebhookEventShown,
  isUuid,
  keysetCursor,
  keysetOf,
  limitParam,
  listCommunicationLogsPage,
  listSubscriptionsPage,
  listWebhookEvents,
  lockWebhookEventForReplay,
  pageOf,
  type KeysetCursor,
  type Transaction,
} from '@saas/db';
import { ApiRouter, ConflictError, NotFoundError } from '@saas/http';
import { authorize, requirePrincipal, resolveOrgScope } from '@saas/rbac';
import type { ServiceRuntime } from '@saas/runtime';
import { publishReplayed, replayDeadLetters, requeueLocked, type ReplayActor } from './replay';
import {
  communicationLogSchema,
  eventDetailSchema,
  eventSchema,
  pageSchema,
  replaySchema,
  statusSchema,
  subscriptionSchema,
  toCommunicationLogResource,
  toEventDetail,
  toEventResource,
  toSubscriptionResource,
} from './resources';
import { integrationStatus } from './status';

const uuid = Joi.string().custom((value: string, helpers) => (isUuid(value) ? value.toLowerCase() : helpers.error('string.guid'))).messages({
  'string.guid': '{{#label}} must be a UUID',
});
const orgParam = { org_id: uuid };
const idParams = Joi.object({ id: uuid.required() });
const PUBLISH_TIMEOUT_MS = 5000;

const problems = {
  401: { description: 'Missing or invalid credentials' },
  403: { description: 'The caller’s role never may do this' },
  404: { description: 'Not found, or not visible to the caller' },
};
const invalid = { 422: { description: 'Invalid query or body' } };

interface PageQuery {
  org_id?: string;
  limit: number;
  cursor?: KeysetCursor;
}

function scopeOf(req: Request): string | null {
  return resolveOrgScope(requirePrincipal(req.principal), (req.query as { org_id?: string }).org_id);
}

function actorOf(req: Request): ReplayActor {
  return { userId: requirePrincipal(req.principal).userId, requestId: req.id ? String(req.id) : null, ip: req.ip ?? null };
}

/** `/integrations/*`, `/subscriptions`, `/communication-logs`: admins see their organization, a superadmin every one. */
export function integrationRoutes(runtime: ServiceRuntime<WebhookGatewayConfig>, authenticate: RequestHandler): ApiRouter {
  const { db, redis, config, broker, logger } = runtime;
  const replayDeps = { db, broker, logger, publishTimeoutMs: PUBLISH_TIMEOUT_MS };
  const inScope = <T>(scope: string | null, work: (tx: Transaction) => Promise<T>) =>
    db.withOrgScope(scope, 'a superadmin reads integration data of every organization', work);

  const status: RequestHandler = async (req, res) => {
    const scope = scopeOf(req);
    const services = await inScope(scope, (tx) =>
      integrationStatus(db, tx, redis, { orgId: scope, windowSeconds: config.INTEGRATION_STATUS_WINDOW_SECONDS, redisPrefix: config.REDIS_KEY_PREFIX }),
    );
    res.json({ window_seconds: config.INTEGRATION_STATUS_WINDOW_SECONDS, ...services });
  };

  const listEvents: RequestHandler = async (req, res) => {
    const query = req.query as unknown as PageQuery & { service?: string; status?: string; event_type?: string; since?: Date; until?: Date };
    const scope = scopeOf(req);
    const rows = await inScope(scope, (tx) => listWebhookEvents(tx, { ...query, orgScope: scope }));
    res.json(pageOf(rows, query.limit, keysetOf, toEventResource));
  };

  const getEvent: RequestHandler = async (req, res) => {
    const scope = scopeOf(req);
    const event = await inScope(scope, (tx) => findWebhookEventShown(tx, req.params['id'] as string));
    if (!event) throw new NotFoundError();
    res.json(toEventDetail(event));
  };

  const replayEvent: RequestHandler = async (req, res) => {
    const scope = scopeOf(req);
    const actor = actorOf(req);
    const event = await inScope(scope, async (tx) => {
      // the stored status (only a failed event may be replayed), its row locked against a concurrent replay
      const found = await lockWebhookEventForReplay(tx, req.params['id'] as string);
      if (!found) throw new NotFoundError();
      if (found.status !== 'failed') throw new ConflictError('event_not_failed', `only a failed event can be replayed; this one is ${found.status}`);
      await requeueLocked(tx, [found], actor, false);
      return found;
    });
    await publishReplayed(replayDeps, [event], actor.requestId);
    res.status(202).json(toEventResource(event));
  };

  const replayDead: RequestHandler = async (req, res) => {
    const scope = scopeOf(req);
    const body = req.body as { service?: string; since?: Date; until?: Date; dry_run: boolean };
    if (body.dry_run) {
      const matched = await inScope(scope, (tx) => countDeadLetters(tx, scope, body));
      res.json({ matched, replayed: 0 });
      return;
    }
    const replayed = await replayDeadLetters(replayDeps, (work) => inScope(scope, work), scope, body, actorOf(req));
    res.json({ matched: replayed, replayed });
  };

  const listSubscriptions: RequestHandler = async (req, res) => {
    const query = req.query as unknown as PageQuery & { status?: string; plan?: string; user_id?: string };
    const scope = scopeOf(req);
    const filter = { orgId: scope ?? undefined, status: query.status, plan: query.plan, user_id: query.user_id };
    const rows = await inScope(scope, (tx) => listSubscriptionsPage(tx, filter, query.cursor, query.limit));
    res.json(pageOf(rows, query.limit, keysetOf, toSubscriptionResource));
  };

  const listCommunicationLogs: RequestHandler = async (req, res) => {
    const query = req.query as unknown as PageQuery & { status?: string; template?: string; recipient?: string };
    const scope = scopeOf(req);
    const filter = { orgId: scope ?? undefined, status: query.status, template: query.template, recipient: query.recipient };
    const rows = await inScope(scope, (tx) => listCommunicationLogsPage(tx, filter, query.cursor, query.limit));
    res.json(pageOf(rows, query.limit, keysetOf, toCommunicationLogResource));
  };

  const page = { limit: limitParam, cursor: keysetCursor, ...orgParam };
  const since = Joi.date().iso();
  const common = { security: 'bearer' as const, tags: ['integrations'] };
  return new ApiRouter()
    .add({
      ...common,
      method: 'get',
      path: '/integrations/status',
      summary: 'Health of each integration over the status window (superadmin: every organization, or ?org_id=)',
      guards: [authenticate, authorize('integrations:read')],
      request: { query: Joi.object(orgParam) },
      responses: { 200: { description: 'Per-service status', schema: statusSchema }, ...problems, ...invalid },
      handler: status,
    })
    .add({
      ...common,
      method: 'get',
      path: '/integrations/events',
      summary: 'Received webhook events, newest first',
      guards: [authenticate, authorize('integrations:read')],
      request: {
        query: Joi.object({ ...page, service: Joi.string().valid(...INTEGRATION_SERVICES), status: Joi.string().valid(...WEBHOOK_EVENT_STATUSES), event_type: Joi.string().max(100), since, until: since }),
      },
      responses: { 200: { description: 'A page of events', schema: pageSchema(eventSchema, 'WebhookEventPage') }, ...problems, ...invalid },
      handler: listEvents,
    })
    .add({
      ...common,
      method: 'get',
      path: '/integrations/events/:id',
      summary: 'One event with its payload, attempts, last error and attempt history',
      guards: [authenticate, authorize('integrations:read')],
      request: { params: idParams, query: Joi.object(orgParam) },
      responses: { 200: { description: 'The event', schema: eventDetailSchema }, ...problems },
      handler: getEvent,
    })
    .add({
      ...common,
      method: 'post',
      path: '/integrations/events/:id/replay',
      summary: 'Re-enqueue a failed event (audited)',
      guards: [authenticate, authorize('integrations:replay')],
      request: { params: idParams, query: Joi.object(orgParam) },
      responses: { 202: { description: 'Queued again', schema: eventSchema }, ...problems, 409: { description: 'The event is not failed' } },
      handler: replayEvent,
    })
    .add({
      ...common,
      method: 'post',
      path: '/integrations/dead-letters/replay',
      summary: 'Re-enqueue failed events matching the filters (failure time in [since, until)); dry_run only counts them',
      guards: [authenticate, authorize('integrations:replay')],
      request: {
        query: Joi.object(orgParam),
        body: Joi.object({ service: Joi.string().valid(...INTEGRATION_SERVICES), since, until: since, dry_run: Joi.boolean().default(false) }),
      },
      responses: { 200: { description: 'How many matched and how many were re-enqueued', schema: replaySchema }, ...problems, ...invalid },
      handler: replayDead,
    })
    .add({
      ...common,
      method: 'get',
      path: '/subscriptions',
      summary: 'Subscriptions synced from the payment provider, newest first',
      guards: [authenticate, authorize('subscriptions:read')],
      request: {
        query: Joi.object({ ...page, status: Joi.string().valid(...SUBSCRIPTION_STATUSES), plan: Joi.string().valid(...PLANS), user_id: uuid }),
      },
      responses: { 200: { description: 'A page of subscriptions', schema: pageSchema(subscriptionSchema, 'SubscriptionPage') }, ...problems, ...invalid },
      handler: listSubscriptions,
    })
    .add({
      ...common,
      method: 'get',
      path: '/communication-logs',
      summary: 'Message deliveries synced from the communication provider, newest first',
      guards: [authenticate, authorize('communication_logs:read')],
      request: {
        query: Joi.object({ ...page, status: Joi.string().valid('delivered', 'failed', 'bounced', 'pending'), template: Joi.string().max(200), recipient: Joi.string().max(254) }),
      },
      responses: { 200: { description: 'A page of communication logs', schema: pageSchema(communicationLogSchema, 'CommunicationLogPage') }, ...problems, ...invalid },
      handler: listCommunicationLogs,
    });
}
