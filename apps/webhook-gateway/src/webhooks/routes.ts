import { performance } from 'node:perf_hooks';
import type { Request, RequestHandler } from 'express';
import {
  SERVICE_EVENT_TYPES,
  WEBHOOK_ENDPOINTS,
  checkWebhookEvent,
  webhookReceivedResponseSchema,
  type BatchItemResult,
  type BatchWebhookResponse,
  type EventFieldError,
  type IntegrationService,
  type RejectionCode,
  type SingleWebhookResponse,
  type WebhookEnvelope,
} from '@saas/contracts';
import type { WebhookEventToStore } from '@saas/db';
import { Joi, type WebhookGatewayConfig } from '@saas/config';
import { ApiRouter, AppError, ValidationError, type ResponseSpec } from '@saas/http';
import type { ServiceRuntime } from '@saas/runtime';
import type { ActiveSource } from '../sources/registry';
import { parseVerifiedJson, readRawJsonBody } from './body';
import type { WebhookComponents } from './components';
import type { ResolvedOrg } from './organizations';
import { periodMs, webhookRateLimit } from './rate-limit';
import { SignatureVerifier, signingKeys, WebhookSignatureError } from './signature';

const SECRET_OF: Record<IntegrationService, keyof WebhookGatewayConfig> = {
  user_service: 'WEBHOOK_SECRET_USER_SERVICE',
  payment_service: 'WEBHOOK_SECRET_PAYMENT_SERVICE',
  communication_service: 'WEBHOOK_SECRET_COMMUNICATION_SERVICE',
};

/** Per-event outcome before the response is shaped. */
type Outcome = { eventId: string | null; result: 'accepted' | 'duplicate' } | { eventId: string | null; result: 'rejected'; code: RejectionCode; errors: EventFieldError[] };

/** The organization a valid event goes to, or why it goes nowhere. */
type Placement = { org: ResolvedOrg } | { code: RejectionCode; message: string };

/**
 * Who decides an event's organization. At a platform endpoint, the payload's `organization_id`; at a source
 * endpoint, the source (`organization_id` may be left out, and naming another organization is refused).
 */
interface Tenancy {
  sourceId: string | null;
  organizationOptional: boolean;
  place(events: WebhookEnvelope<string>[]): Promise<Placement[]>;
}

const receivedAt = new WeakMap<Request, number>();
const sourceOf = new WeakMap<Request, ActiveSource>();

const prefixErrors = (index: number, errors: EventFieldError[]) =>
  errors.map((e) => ({ ...e, path: e.path ? `events.${index}.${e.path}` : `events.${index}` }));

const rawBodyOf = (req: Request) => (Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));

const RESPONSES: Record<number, ResponseSpec> = {
  202: { description: 'Received: single `{status, event_id, result}` or batch `{status, accepted, duplicates, rejected, results}`', schema: webhookReceivedResponseSchema },
  400: { description: 'Malformed JSON (`malformed_json`), or nested deeper than 64 levels (`body_too_deep`)' },
  401: { description: 'Missing, invalid, stale or future signature; at a source endpoint also an unknown, disabled or deleted source, or another service’s. Nothing stored' },
  413: { description: 'Body larger than WEBHOOK_MAX_BODY_BYTES' },
  415: { description: 'Body is not JSON (UTF-8)' },
  422: { description: 'An invalid single event, or a batch with no valid event (per-item errors)' },
  429: { description: 'Rate limited per client IP', headers: { 'Retry-After': { description: 'seconds' }, 'RateLimit-Limit': { description: 'quota' }, 'RateLimit-Remaining': { description: 'left' }, 'RateLimit-Reset': { description: 'seconds' } } },
  503: { description: 'Database unreachable', headers: { 'Retry-After': { description: 'seconds' } } },
};

const REQUEST_BODY_DOC = {
  required: true,
  content: {
    'application/json': {
      schema: {
        oneOf: [
          { type: 'object', description: 'One event: {event_id, event_type, timestamp, organization_id, metadata, data}' },
          { type: 'object', required: ['events'], properties: { events: { type: 'array', items: { type: 'object' } } } },
        ],
      },
    },
  },
};

const signatureHeaders = (secretName: string) => [
  { name: 'webhook-id', description: 'Unique message id (Standard Webhooks)' },
  { name: 'webhook-timestamp', description: 'Unix seconds; within WEBHOOK_SIGNATURE_TOLERANCE_SECONDS of now' },
  { name: 'webhook-signature', description: `v1,<base64 HMAC-SHA256 of "id.timestamp.body"> with ${secretName}` },
];

/**
 * `POST /webhooks/<service-endpoint>` (platform: the payload names the organization; off when its secret is empty) and
 * `POST /webhooks/<service-endpoint>/<source_id>` (a source: its organization). Each request goes rate limit → raw
 * body (size-limited) → signature → JSON parse (depth-limited) → validation, so an unsigned body costs no parse.
 */
export function webhookRoutes(runtime: ServiceRuntime<WebhookGatewayConfig>, components: WebhookComponents): ApiRouter {
  const { config, logger, redis } = runtime;
  const { metrics, organizations, pipeline, sources } = components;
  const verifier = new SignatureVerifier(config.WEBHOOK_SIGNATURE_TOLERANCE_SECONDS);
  const router = new ApiRouter();

  const platformTenancy: Tenancy = {
    sourceId: null,
    organizationOptional: false,
    async place(events) {
      const refs = events.map((event) => String(event.organization_id).trim());
      const orgs = await organizations.resolveMany(refs);
      return refs.map((ref): Placement => {
        const org = orgs.get(ref);
        return org ? { org } : { code: 'unknown_organization', message: `no organization "${ref}"` };
      });
    },
  };

  const sourceTenancy = (source: ActiveSource): Tenancy => ({
    sourceId: source.id,
    organizationOptional: true,
    async place(events) {
      const org = { id: source.orgId, status: source.orgStatus };
      return events.map((event): Placement => {
        const ref = event.organization_id?.trim().toLowerCase();
        if (ref === undefined || ref === source.orgSlug || ref === source.orgId) return { org };
        return { code: 'organization_mismatch', message: `"${event.organization_id}" is not the organization of this source` };
      });
    },
  });

  for (const [endpoint, service] of Object.entries(WEBHOOK_ENDPOINTS) as [string, IntegrationService][]) {
    const count = (outcome: string) => metrics.requests.inc({ service, outcome });

    const rateLimit = webhookRateLimit({
      redis,
      prefix: `${config.REDIS_KEY_PREFIX}rl:webhooks:`,
      limit: config.WEBHOOK_RATE_LIMIT_COUNT,
      windowMs: periodMs(config.WEBHOOK_RATE_LIMIT_PERIOD),
      logger,
      onStoreError: () => metrics.rateLimitStoreErrors.inc(),
      onLimited: () => count('rate_limited'),
    });
    const markReceived: RequestHandler = (req, _res, next) => {
      receivedAt.set(req, Date.now());
      next();
    };
    const readBody = readRawJsonBody(config.WEBHOOK_MAX_BODY_BYTES, () => count('invalid'));
    const parseBody: RequestHandler = (req, _res, next) => {
      try {
        req.body = parseVerifiedJson(rawBodyOf(req));
        next();
      } catch (err) {
        count('invalid');
        next(err);
      }
    };
    const refuse = (err: unknown, next: (err: unknown) => void) => {
      count('unauthorized');
      next(err);
    };

    /** Validates each event and places it in its organization; every event ends up an ingest item or a rejection. */
    async function screen(candidates: unknown[], tenancy: Tenancy, requestId: string): Promise<Outcome[]> {
      const checks = candidates.map((candidate) => checkWebhookEvent(service, candidate, { organizationOptional: tenancy.organizationOptional }));
      const valid = checks.flatMap((check, index) => (check.ok ? [{ check, index }] : []));
      const placements = valid.length ? await tenancy.place(valid.map(({ check }) => check.event)) : [];
      const outcomes: Outcome[] = [];
      checks.forEach((check, index) => {
        if (!check.ok) outcomes[index] = { eventId: check.eventId, result: 'rejected', code: check.code, errors: check.errors };
      });
      const items: { index: number; item: WebhookEventToStore }[] = [];
      valid.forEach(({ check, index }, i) => {
        const placement = placements[i] as Placement;
        const refused: { code: RejectionCode; message: string } | null =
          'code' in placement
            ? placement
            : placement.org.status !== 'active'
              ? { code: 'organization_inactive', message: `the organization is ${placement.org.status}` }
              : null;
        if (refused) {
          outcomes[index] = { eventId: check.event.event_id, result: 'rejected', code: refused.code, errors: [{ path: 'organization_id', message: refused.message, code: refused.code }] };
          return;
        }
        const { event } = check;
        items.push({
          index,
          item: {
            orgId: (placement as { org: ResolvedOrg }).org.id,
            service,
            sourceId: tenancy.sourceId,
            eventId: event.event_id,
            eventType: event.event_type,
            timestamp: check.timestamp,
            payloadJson: check.json,
            requestId,
          },
        });
      });
      if (items.length) {
        const results = await pipeline.submit(items.map((i) => i.item));
        items.forEach(({ index, item }, i) => (outcomes[index] = { eventId: item.eventId, result: results[i] }));
      }
      for (const o of outcomes) metrics.events.inc({ service, result: o.result, code: o.result === 'rejected' ? o.code : '' });
      return outcomes;
    }

    function ingestHandler(tenancyOf: (req: Request) => Tenancy): RequestHandler {
      return async (req, res) => {
        const started = performance.now();
        const requestId = String(req.id);
        const tenancy = tenancyOf(req);
        const body: unknown = req.body;
        const isBatch = typeof body === 'object' && body !== null && !Array.isArray(body) && 'events' in body;
        try {
          if (!isBatch) {
            const [outcome] = await screen([body], tenancy, requestId);
            if (outcome.result === 'rejected') throw new ValidationError(outcome.errors, 'The event was rejected', outcome.code);
            const response: SingleWebhookResponse = { status: 'received', event_id: String(outcome.eventId), result: outcome.result };
            res.status(202).json(response);
            metrics.ingestLatency.observe({ service, kind: 'single' }, (performance.now() - started) / 1000);
            count('received');
            return;
          }
          const events = (body as { events: unknown }).events;
          if (!Array.isArray(events) || events.length === 0 || events.length > config.WEBHOOK_MAX_BATCH) {
            throw new ValidationError(
              [{ path: 'events', message: `must be an array of 1 to ${config.WEBHOOK_MAX_BATCH} events` }],
              'The batch is not valid',
              'invalid_batch',
            );
          }
          const outcomes = await screen(events, tenancy, requestId);
          const results: BatchItemResult[] = outcomes.map((o, index) =>
            o.result === 'rejected' ? { index, event_id: o.eventId, result: o.result, code: o.code, errors: o.errors } : { index, event_id: o.eventId, result: o.result },
          );
          const tally = (r: string) => results.filter((x) => x.result === r).length;
          const response: BatchWebhookResponse = { status: 'received', accepted: tally('accepted'), duplicates: tally('duplicate'), rejected: tally('rejected'), results };
          if (response.accepted + response.duplicates === 0) {
            throw new ValidationError(
              results.flatMap((r) => prefixErrors(r.index, r.errors ?? [])),
              'No event of the batch is valid',
              'no_valid_events',
            );
          }
          res.status(202).json(response);
          metrics.ingestLatency.observe({ service, kind: 'batch' }, (performance.now() - started) / 1000);
          count('received');
        } catch (err) {
          count(!(err instanceof AppError) ? 'error' : err.status === 503 ? 'unavailable' : 'invalid');
          throw err;
        }
      };
    }

    const platformSecret = String(config[SECRET_OF[service]]).trim();
    if (platformSecret) {
      const keys = signingKeys(platformSecret);
      const verifyPlatform: RequestHandler = (req, _res, next) => {
        try {
          verifier.verify(req.headers, rawBodyOf(req), receivedAt.get(req) ?? Date.now(), keys);
          next();
        } catch (err) {
          refuse(err, next);
        }
      };
      router.add({
        method: 'post',
        path: `/webhooks/${endpoint}`,
        summary: `Receive ${service} webhooks for any organization (platform provider)`,
        description:
          `Standard Webhooks-signed delivery of one event or a batch \`{"events": [...]}\` (at most WEBHOOK_MAX_BATCH); \`organization_id\` names the organization. ` +
          `Event types: ${SERVICE_EVENT_TYPES[service].join(', ')}. 202 means the accepted events are committed; a redelivered event answers \`duplicate\`. ` +
          `Unknown fields are accepted and stored. Off (404) when ${SECRET_OF[service]} is empty.`,
        tags: ['webhooks'],
        security: 'webhook',
        guards: [rateLimit, markReceived, ...readBody, verifyPlatform, parseBody],
        headerParams: signatureHeaders(SECRET_OF[service]),
        requestBodyDoc: REQUEST_BODY_DOC,
        responses: RESPONSES,
        handler: ingestHandler(() => platformTenancy),
      });
    }

    /**
     * The source's secrets verify its deliveries; an unknown, disabled or deleted source, or one of another service, is
     * verified against no key at all, so every refusal is the same 401. A mismatch against a cached entry reads the
     * source again once (a rotation made on another replica).
     */
    const verifySource: RequestHandler = async (req, _res, next) => {
      const id = String(req.params['sourceId']);
      const at = receivedAt.get(req) ?? Date.now();
      const check = (source: ActiveSource | null) => {
        const usable = source?.service === service ? source : null;
        verifier.verify(req.headers, rawBodyOf(req), at, usable?.keysAt(at) ?? []);
        return usable as ActiveSource;
      };
      try {
        const cached = await sources.find(id);
        let source: ActiveSource;
        try {
          source = check(cached);
        } catch (err) {
          if (!(err instanceof WebhookSignatureError && err.code === 'invalid_signature')) throw err;
          source = check(await sources.reload(id));
        }
        sourceOf.set(req, source);
        next();
      } catch (err) {
        if (err instanceof WebhookSignatureError) refuse(err, next);
        else next(err);
      }
    };
    router.add({
      method: 'post',
      path: `/webhooks/${endpoint}/:sourceId`,
      summary: `Receive ${service} webhooks of one organization, through its integration source`,
      description:
        'Signed with the source’s secret (current, or the previous one during a rotation’s overlap). The source decides the organization: ' +
        '`organization_id` may be left out; an event naming another organization is rejected `organization_mismatch`. Otherwise as the platform endpoint.',
      tags: ['webhooks'],
      security: 'webhook',
      guards: [rateLimit, markReceived, ...readBody, verifySource, parseBody],
      request: { params: Joi.object({ sourceId: Joi.string().description('the source’s id (POST /integrations/sources)') }) },
      headerParams: signatureHeaders('the source’s secret'),
      requestBodyDoc: REQUEST_BODY_DOC,
      responses: RESPONSES,
      handler: ingestHandler((req) => sourceTenancy(sourceOf.get(req) as ActiveSource)),
    });

  }
  return router;
}
