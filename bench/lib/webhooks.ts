import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

export type WebhookEndpoint = 'user-service' | 'payment-service' | 'communication-service';

export const WEBHOOK_ENDPOINTS: WebhookEndpoint[] = ['user-service', 'payment-service', 'communication-service'];

const SECRET_VARIABLE: Record<WebhookEndpoint, string> = {
  'user-service': 'WEBHOOK_SECRET_USER_SERVICE',
  'payment-service': 'WEBHOOK_SECRET_PAYMENT_SERVICE',
  'communication-service': 'WEBHOOK_SECRET_COMMUNICATION_SERVICE',
};

/** The secret a provider signs with: the first of the (space-separated, for rotation) configured ones. */
export function webhookSecret(env: Record<string, string | undefined>, endpoint: WebhookEndpoint): string {
  const value = env[SECRET_VARIABLE[endpoint]];
  if (!value) throw new Error(`${SECRET_VARIABLE[endpoint]} is not set`);
  return value.split(/\s+/)[0]!;
}

/** Standard Webhooks headers for `body`, signed now (or at `at`), with a fresh message id unless given. */
export function signWebhook(secret: string, body: string, options: { id?: string; at?: Date } = {}): Record<string, string> {
  const id = options.id ?? `msg_${randomUUID()}`;
  const at = options.at ?? new Date();
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
}

export interface EventOptions {
  orgSlug: string;
  /** Distinguishes entities: events with the same key touch the same user / subscription / message. */
  entity: string;
  eventId?: string;
  timestamp?: Date;
}

/**
 * A valid event envelope (docs/API.md "Webhook events") for each endpoint (the `created`/`delivered` kind: one effect
 * per entity).
 */
export function sampleEvent(endpoint: WebhookEndpoint, o: EventOptions): Record<string, unknown> {
  const base = {
    event_id: o.eventId ?? `evt_${randomUUID()}`,
    timestamp: (o.timestamp ?? new Date()).toISOString(),
    organization_id: o.orgSlug,
    metadata: { source: endpoint, version: '1.0', correlation_id: randomUUID() },
  };
  switch (endpoint) {
    case 'user-service':
      return {
        ...base,
        event_type: 'user.created',
        data: { user_id: `ext_${o.entity}`, email: `${o.entity}@bench.test`, first_name: 'Bench', last_name: o.entity, department: 'Engineering', title: 'Engineer' },
      };
    case 'payment-service':
      return {
        ...base,
        event_type: 'subscription.created',
        data: { subscription_id: `sub_${o.entity}`, customer_id: `ext_${o.entity}`, plan: 'professional', status: 'active', billing_cycle: 'monthly', amount: 49.99, currency: 'USD' },
      };
    case 'communication-service':
      return {
        ...base,
        event_type: 'message.delivered',
        data: { message_id: `msg_${o.entity}`, recipient: `${o.entity}@bench.test`, template: 'welcome', status: 'delivered', delivery_time_ms: 120 },
      };
  }
}

/** A signed POST /webhooks/<endpoint> request: the body (one event, or `{events}` for a batch) and its headers. */
export function signedRequest(secret: string, payload: unknown): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify(payload);
  return { body, headers: signWebhook(secret, body) };
}
