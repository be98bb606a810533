import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import amqp from 'amqplib';
import { Webhook } from 'standardwebhooks';
import { QueryTypes } from 'sequelize';
import type { WebhookGatewayConfig } from '@saas/config';
import { ENDPOINT_OF_SERVICE, INTEGRATION_SERVICES, type IntegrationService, type WebhookEndpoint } from '@saas/contracts';
import { createRuntime, type ServiceRuntime } from '@saas/runtime';
// App tests need the shared test kit; the boundary rule is about production code.
import { startApp, testConfig, unique, type StartedApp } from '@saas/testing';
import { buildWebhookApp } from '../app';
import { createWebhookComponents, type WebhookComponents } from './components';

export const EXAMPLES_DIR = path.resolve(__dirname, '../../../../examples/webhooks');

/** An example payload (examples/webhooks/<event_type>.json) for `orgSlug`, with a fresh event id. */
export function exampleEvent(eventType: string, orgSlug: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const event = JSON.parse(readFileSync(path.join(EXAMPLES_DIR, `${eventType}.json`), 'utf8')) as Record<string, unknown>;
  return { ...event, event_id: unique('evt'), organization_id: orgSlug, ...overrides };
}

export interface GatewayUnderTest {
  runtime: ServiceRuntime<WebhookGatewayConfig>;
  app: StartedApp;
  config: WebhookGatewayConfig;
  components: WebhookComponents;
  close(): Promise<void>;
}

/** A real webhook-gateway on an ephemeral port, with the test run's database, Redis prefix and RabbitMQ prefix. */
export async function startGateway(overrides: Record<string, string | number | boolean> = {}): Promise<GatewayUnderTest> {
  const config = testConfig<WebhookGatewayConfig>('webhook-gateway', overrides);
  const runtime = createRuntime({ service: 'webhook-gateway', config });
  // Closing a runtime while its channel is still being set up emits 'error' on the channel.
  runtime.broker.channel.on('error', () => undefined);
  // Requests of a test should meet a connected Redis (unless the test points it at a dead address on purpose).
  if (!overrides['REDIS_URL'] && runtime.redis.status !== 'ready') await once(runtime.redis, 'ready');
  const components = createWebhookComponents(runtime);
  const app = await startApp(buildWebhookApp(runtime, components));
  return { runtime, app, config, components, close: async () => (await app.close(), await runtime.close()) };
}

export function secretOf(config: WebhookGatewayConfig, service: IntegrationService): string {
  const name = `WEBHOOK_SECRET_${service.toUpperCase()}` as keyof WebhookGatewayConfig;
  return String(config[name]).split(' ')[0];
}

type ErrorItem = { path: string; message: string; code?: string };

/** What the gateway answers (202 single/batch, or a problem), loosely typed for assertions. */
export interface Answer {
  status?: string | number;
  result?: string;
  event_id?: string;
  code?: string;
  detail?: string;
  accepted?: number;
  duplicates?: number;
  rejected?: number;
  results?: { index: number; event_id: string | null; result: string; code?: string; errors?: ErrorItem[] }[];
  errors?: ErrorItem[];
}

export interface SendOptions {
  secret: string;
  id?: string;
  at?: Date;
  headers?: Record<string, string>;
  /** Sign this body but send `body` (tampering). */
  signedBody?: string;
  /** Send to the integration source's endpoint, /webhooks/<endpoint>/<sourceId>. */
  sourceId?: string;
}

/** POSTs a Standard Webhooks-signed body to /webhooks/<endpoint> (or a source's /webhooks/<endpoint>/<id>). */
export async function send(baseUrl: string, endpoint: WebhookEndpoint, payload: unknown, options: SendOptions): Promise<{ status: number; headers: Headers; body: Answer }> {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const id = options.id ?? `msg_${randomUUID()}`;
  const at = options.at ?? new Date();
  const res = await fetch(`${baseUrl}/webhooks/${endpoint}${options.sourceId ? `/${options.sourceId}` : ''}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(options.secret).sign(id, at, options.signedBody ?? body),
      ...options.headers,
    },
    body,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : {} };
}

export const endpointOf = (service: IntegrationService) => ENDPOINT_OF_SERVICE[service];

export async function storedEvents(runtime: Pick<ServiceRuntime, 'db'>, eventIds: string[]) {
  return runtime.db.asSystem('test assertion', (transaction) =>
    runtime.db.sequelize.query<{ id: string; org_id: string; event_id: string; status: string; duplicate_count: number; in_outbox: boolean; payload: Record<string, unknown> }>(
      `SELECT id, org_id, event_id, status, duplicate_count, EXISTS (SELECT 1 FROM webhook_outbox o WHERE o.event_id = e.id) AS in_outbox, payload
         FROM webhook_events e WHERE event_id = ANY($1::text[])`,
      { bind: [eventIds], type: QueryTypes.SELECT, transaction },
    ),
  );
}

export interface SeenMessage {
  routingKey: string;
  messageId: string;
  body: Record<string, unknown>;
  headers: Record<string, unknown>;
  persistent: boolean;
}

/** Consumes the run's three service queues on the real broker and remembers every message by its messageId. */
export class QueueWatcher {
  readonly seen = new Map<string, SeenMessage[]>();
  private connection?: amqp.ChannelModel;

  async start(runtime: ServiceRuntime): Promise<this> {
    await runtime.broker.channel.waitForConnect(); // the topology is declared on connect
    this.connection = await amqp.connect(process.env['RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672');
    const channel = await this.connection.createChannel();
    for (const service of INTEGRATION_SERVICES) {
      await channel.consume(runtime.broker.names.serviceQueue(service), (msg) => {
        if (!msg) return;
        const seen: SeenMessage = {
          routingKey: msg.fields.routingKey,
          messageId: String(msg.properties.messageId),
          body: JSON.parse(msg.content.toString()),
          headers: msg.properties.headers ?? {},
          persistent: msg.properties.deliveryMode === 2,
        };
        this.seen.set(seen.messageId, [...(this.seen.get(seen.messageId) ?? []), seen]);
        channel.ack(msg);
      });
    }
    return this;
  }

  count(messageId: string): number {
    return this.seen.get(messageId)?.length ?? 0;
  }

  async stop(): Promise<void> {
    await this.connection?.close();
  }
}
