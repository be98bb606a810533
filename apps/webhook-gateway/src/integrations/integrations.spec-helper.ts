// Test support for the integration endpoints: a gateway on its own RabbitMQ prefix, bearer tokens, and stored events.
import type { IdentityServiceConfig } from '@saas/config';
import { createTokenSigner } from '@saas/auth';
import { returnEventsToOutbox, WebhookEvent, type AttemptRecord, type Database, type User, type WebhookEventStatus } from '@saas/db';
// App tests need the shared test kit; the boundary rule is about production code.
import { testConfig, unique } from '@saas/testing';
import { startGateway, type GatewayUnderTest } from '../webhooks/webhooks.spec-helper';

/** A webhook-gateway whose RabbitMQ names are its own, so workers started for it consume nobody else's messages. */
export function startIntegrationsGateway(overrides: Record<string, string | number | boolean> = {}): Promise<GatewayUnderTest> {
  return startGateway({ RABBITMQ_NAME_PREFIX: `${process.env['RABBITMQ_NAME_PREFIX']}${unique('intg')}.`, ...overrides });
}

const signer = createTokenSigner(testConfig<IdentityServiceConfig>('identity-service'));

export const bearer = (user: User) => ({ authorization: `Bearer ${signer.sign(user).access_token}` });

export async function call(url: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}) {
  const res = await fetch(`${url}${path}`, {
    method: init.method ?? 'GET',
    headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

export interface StoredEvent {
  service?: WebhookEvent['service'];
  eventType?: string;
  status?: WebhookEventStatus;
  history?: (Omit<AttemptRecord, 'at'> & { secondsAgo?: number })[];
  lastError?: string | null;
  data?: Record<string, unknown>;
  updatedSecondsAgo?: number;
  /** Still waiting in the outbox for its publish to be confirmed (only a `received` event can be). */
  inOutbox?: boolean;
}

/** A webhook_events row in a given state, as the gateway and the worker would have left it. */
export async function storeEvent(db: Database, orgId: string, spec: StoredEvent = {}): Promise<WebhookEvent> {
  const service = spec.service ?? 'user_service';
  const eventType = spec.eventType ?? 'user.created';
  const eventId = unique('evt');
  const now = Date.now();
  const history = (spec.history ?? []).map(({ secondsAgo, ...h }) => ({ ...h, at: new Date(now - (secondsAgo ?? 0) * 1000).toISOString() }));
  const status = spec.status ?? 'queued';
  const event = await db.forOrg(orgId, (transaction) =>
    WebhookEvent.create(
      {
        org_id: orgId,
        service,
        event_id: eventId,
        event_type: eventType,
        event_timestamp: new Date(),
        status,
        payload: { event_id: eventId, event_type: eventType, timestamp: new Date().toISOString(), organization_id: orgId, metadata: { source: 'test' }, data: spec.data ?? {} },
        attempts: history.length,
        history,
        last_error: spec.lastError ?? null,
        processed_at: status === 'processed' || status === 'skipped' ? new Date() : null,
      },
      { transaction },
    ),
  );
  if (spec.inOutbox) await db.forOrg(orgId, (transaction) => returnEventsToOutbox(transaction, [event]));
  if (spec.updatedSecondsAgo !== undefined) {
    await db.forOrg(orgId, (transaction) =>
      db.sequelize.query("UPDATE webhook_events SET updated_at = now() - make_interval(secs => $2) WHERE id = $1", { bind: [event.id, spec.updatedSecondsAgo], transaction }),
    );
  }
  return event;
}
