// The naive reference for bench/webhooks: the same stack (config, HTTP app, signature check, validation, organization
// cache, PostgreSQL, RabbitMQ) without grouping. Per request: parse → INSERT (one transaction) → publish → await the
// broker's confirm → 202. Rows are inserted already marked published, since this endpoint answers only after the
// confirm (and so the gateway's relay, sharing the table, leaves them alone).
import { QueryTypes } from 'sequelize';
import { checkWebhookEvent, WEBHOOK_ENDPOINTS, type IntegrationService, type WebhookEndpoint } from '@saas/contracts';
import { configSchemas, loadConfig, type WebhookGatewayConfig } from '@saas/config';
import { ApiRouter, createHttpApp, startServer, ValidationError } from '@saas/http';
import type { OutboxEventRow } from '@saas/db';
import { publishIntegrationEvent } from '@saas/messaging';
import { createRuntime } from '@saas/runtime';
import { OrganizationResolver } from '../../apps/webhook-gateway/src/webhooks/organizations';
import { parseVerifiedJson, readRawJsonBody } from '../../apps/webhook-gateway/src/webhooks/body';
import { SignatureVerifier, signingKeys } from '../../apps/webhook-gateway/src/webhooks/signature';

const config = loadConfig<WebhookGatewayConfig>(configSchemas['webhook-gateway']);
const runtime = createRuntime({ service: 'naive-webhooks', config });
const organizations = new OrganizationResolver(runtime.db);
const SECRETS: Record<IntegrationService, string> = {
  user_service: config.WEBHOOK_SECRET_USER_SERVICE,
  payment_service: config.WEBHOOK_SECRET_PAYMENT_SERVICE,
  communication_service: config.WEBHOOK_SECRET_COMMUNICATION_SERVICE,
};

const router = new ApiRouter();
const verifier = new SignatureVerifier(config.WEBHOOK_SIGNATURE_TOLERANCE_SECONDS);
for (const [endpoint, service] of Object.entries(WEBHOOK_ENDPOINTS) as [WebhookEndpoint, IntegrationService][]) {
  const keys = signingKeys(SECRETS[service]);
  router.add({
    method: 'post',
    path: `/webhooks/${endpoint}`,
    summary: 'naive reference',
    tags: ['bench'],
    security: 'webhook',
    responses: { 202: { description: 'stored and confirmed' } },
    guards: readRawJsonBody(config.WEBHOOK_MAX_BODY_BYTES, () => undefined),
    handler: async (req, res) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      verifier.verify(req.headers, raw, Date.now(), keys);
      const body = parseVerifiedJson(raw) as { events?: unknown[] };
      const candidates = Array.isArray(body.events) ? body.events : [body];
      const checks = candidates.map((c) => checkWebhookEvent(service, c));
      const valid = checks.flatMap((c) => (c.ok ? [c] : []));
      const orgs = await organizations.resolveMany(valid.map((c) => String(c.event.organization_id)));
      const rows = valid.flatMap((c) => {
        const org = orgs.get(String(c.event.organization_id));
        return org?.status === 'active' ? [{ org, check: c }] : [];
      });
      if (!rows.length) throw new ValidationError([{ path: '', message: 'no valid event' }]);
      const stored = await runtime.db.asSystem('bench: naive insert', (transaction) =>
        runtime.db.sequelize.query<OutboxEventRow>(
          `INSERT INTO webhook_events (org_id, service, event_id, event_type, event_timestamp, payload, request_id, status)
           SELECT t.org_id, t.service, t.event_id, t.event_type, t.ts, t.payload::jsonb, t.request_id, 'queued'
             FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[])
                  AS t(org_id, service, event_id, event_type, ts, payload, request_id)
           ON CONFLICT (org_id, service, event_id) DO NOTHING
           RETURNING id, org_id, service, event_type, event_id, request_id`,
          {
            bind: [
              rows.map((r) => r.org.id),
              rows.map(() => service),
              rows.map((r) => r.check.event.event_id),
              rows.map((r) => r.check.event.event_type),
              rows.map((r) => r.check.timestamp.toISOString()),
              rows.map((r) => r.check.json),
              rows.map(() => String(req.id)),
            ],
            type: QueryTypes.SELECT,
            transaction,
          },
        ),
      );
      await Promise.all(stored.map((e) => publishIntegrationEvent(runtime.broker.channel, runtime.broker.names.eventsExchange, e, { timeoutMs: 10000 })));
      res.status(202).json({ status: 'received', accepted: stored.length });
    },
  });
}

const app = createHttpApp({
  service: 'naive-webhooks',
  logger: runtime.logger,
  metrics: runtime.metrics,
  trustProxy: config.TRUST_PROXY,
  readiness: runtime.readiness,
  bodyLimit: config.WEBHOOK_MAX_BODY_BYTES,
  rawBodyPrefix: '/webhooks/',
  api: { info: { title: 'naive', version: '0' }, routers: [router] },
});
void startServer(app, Number(process.env['BENCH_PORT']), { logger: runtime.logger, shutdownTimeoutMs: 2000, onShutdown: runtime.close });
