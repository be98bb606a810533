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
} from '@saas/contracts';
import type { WebhookGatewayConfig } from '@saas/config';
import { ApiRouter, AppError, UnsupportedMediaTypeError, ValidationError } from '@saas/http';
import type { ServiceRuntime } from '@saas/runtime';
import { webhookComponents } from './components';
import type { IngestItem } from './ingest';
import { periodMs, webhookRateLimit } from './rate-limit';
import { SignatureVerifier } from './signature';

const SECRET_OF: Record<IntegrationService, keyof WebhookGatewayConfig> = {
  user_service: 'WEBHOOK_SECRET_USER_SERVICE',
  payment_service: 'WEBHOOK_SECRET_PAYMENT_SERVICE',
  communication_service: 'WEBHOOK_SECRET_COMMUNICATION_SERVICE',
};

const JSON_TYPES = ['application/json', 'application/*+json'];

/** Per-event outcome before the response is shaped. */
type Outcome = { eventId: string | null; result: 'accepted' | 'duplicate' } | { eventId: string | null; result: 'rejected'; code: RejectionCode; errors: EventFieldError[] };

const receivedAt = new WeakMap<Request, number>();

const prefixErrors = (index: number, errors: EventFieldError[]) =>
  errors.map((e) => ({ ...e, path: e.path ? `events.${index}.${e.path}` : `events.${index}` }));

export function webhookRoutes(runtime: ServiceRuntime<WebhookGatewayConfig>): ApiRouter {
  const { config, logger, redis } = runtime;
  const { metrics, organizations, pipeline } = webhookComponents(runtime);
  const router = new ApiRouter();

  for (const [endpoint, service] of Object.entries(WEBHOOK_ENDPOINTS) as [string, IntegrationService][]) {
    const verifier = new SignatureVerifier(String(config[SECRET_OF[service]]), config.WEBHOOK_SIGNATURE_TOLERANCE_SECONDS);
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

    const requireJson: RequestHandler = (req, _res, next) => {
      receivedAt.set(req, Date.now());
      if (req.is(JSON_TYPES)) return next();
      count('invalid');
      next(new UnsupportedMediaTypeError());
    };

    const verifySignature: RequestHandler = (req, _res, next) => {
      try {
        verifier.verify(req.headers, req.rawBody ?? Buffer.alloc(0), receivedAt.get(req) ?? Date.now());
        next();
      } catch (err) {
        count('unauthorized');
        next(err);
      }
    };

    /** Validates each event and resolves its organization; every event ends up an ingest item or a rejection. */
    async function screen(candidates: unknown[], requestId: string): Promise<Outcome[]> {
      const checks = candidates.map((candidate) => checkWebhookEvent(service, candidate));
      const refs = checks.flatMap((c) => (c.ok ? [c.event.organization_id.trim()] : []));
      const orgs = refs.length ? await organizations.resolveMany(refs) : new Map();
      const outcomes: Outcome[] = [];
      const items: { index: number; item: IngestItem }[] = [];
      checks.forEach((check, index) => {
        if (!check.ok) {
          outcomes[index] = { eventId: check.eventId, result: 'rejected', code: check.code, errors: check.errors };
          return;
        }
        const { event } = check;
        const ref = event.organization_id.trim();
        const org = orgs.get(ref);
        if (!org || org.status !== 'active') {
          const code: RejectionCode = org ? 'organization_inactive' : 'unknown_organization';
          const message = org ? `organization "${ref}" is ${org.status}` : `no organization "${ref}"`;
          outcomes[index] = { eventId: event.event_id, result: 'rejected', code, errors: [{ path: 'organization_id', message, code }] };
          return;
        }
        items.push({
          index,
          item: { orgId: org.id, service, eventId: event.event_id, eventType: event.event_type, timestamp: check.timestamp, payloadJson: check.json, requestId },
        });
      });
      if (items.length) {
        const results = await pipeline.submit(items.map((i) => i.item));
        items.forEach(({ index, item }, i) => (outcomes[index] = { eventId: item.eventId, result: results[i] }));
      }
      for (const o of outcomes) metrics.events.inc({ service, result: o.result, code: o.result === 'rejected' ? o.code : '' });
      return outcomes;
    }

    router.add({
      method: 'post',
      path: `/webhooks/${endpoint}`,
      summary: `Receive ${service} webhooks`,
      description:
        `Standard Webhooks-signed delivery of one event or a batch \`{"events": [...]}\` (at most WEBHOOK_MAX_BATCH). ` +
        `Event types: ${SERVICE_EVENT_TYPES[service].join(', ')}. 202 means the accepted events are committed; ` +
        'a redelivered event answers `duplicate`. Unknown fields are accepted and stored.',
      tags: ['webhooks'],
      security: 'webhook',
      guards: [rateLimit, requireJson, verifySignature],
      headerParams: [
        { name: 'webhook-id', description: 'Unique message id (Standard Webhooks)' },
        { name: 'webhook-timestamp', description: 'Unix seconds; within WEBHOOK_SIGNATURE_TOLERANCE_SECONDS of now' },
        { name: 'webhook-signature', description: `v1,<base64 HMAC-SHA256 of "id.timestamp.body"> with WEBHOOK_SECRET_${service.toUpperCase()}` },
      ],
      requestBodyDoc: {
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
      },
      responses: {
        202: { description: 'Received: single `{status, event_id, result}` or batch `{status, accepted, duplicates, rejected, results}`', schema: webhookReceivedResponseSchema },
        400: { description: 'Malformed JSON' },
        401: { description: 'Missing, invalid, stale or future signature; nothing stored' },
        413: { description: 'Body larger than WEBHOOK_MAX_BODY_BYTES' },
        415: { description: 'Body is not JSON' },
        422: { description: 'An invalid single event, or a batch with no valid event (per-item errors)' },
        429: { description: 'Rate limited per client IP', headers: { 'Retry-After': { description: 'seconds' }, 'RateLimit-Limit': { description: 'quota' }, 'RateLimit-Remaining': { description: 'left' }, 'RateLimit-Reset': { description: 'seconds' } } },
        503: { description: 'Database unreachable', headers: { 'Retry-After': { description: 'seconds' } } },
      },
      handler: async (req, res) => {
        const started = performance.now();
        const requestId = String(req.id);
        const body: unknown = req.body;
        const isBatch = typeof body === 'object' && body !== null && !Array.isArray(body) && 'events' in body;
        try {
          if (!isBatch) {
            const [outcome] = await screen([body], requestId);
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
          const outcomes = await screen(events, requestId);
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
      },
    });
  }
  return router;
}
