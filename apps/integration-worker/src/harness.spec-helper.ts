// Test support for the worker's specs: a worker on its own RabbitMQ prefix, and events produced the way the webhook
// gateway produces them (a webhook_events row, then a message on the events exchange; docs/MESSAGING.md "Messages").
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import type { IntegrationWorkerConfig } from '@saas/config';
import { Database, WebhookEvent, type Organization, type WebhookEventStatus } from '@saas/db';
import { connectBroker, HEADERS, routingKey, type Broker, type IntegrationMessage, type IntegrationService } from '@saas/messaging';
import { createRuntime, type ServiceRuntime } from '@saas/runtime';
// Specs of an app use the shared test fixtures; the module-boundary rule has no notion of spec files.
import { eventually, testConfig, unique } from '@saas/testing';
import { startWorker, type Worker, type WorkerOptions } from './worker';

export const SERVICE_OF: Record<string, IntegrationService> = { user: 'user_service', subscription: 'payment_service', payment: 'payment_service', message: 'communication_service' };

/** A config whose RabbitMQ names are this scenario's own (prefix under the run's), so scenarios never share queues. */
export function scenarioConfig(overrides: Record<string, string | number | boolean> = {}): IntegrationWorkerConfig {
  return testConfig<IntegrationWorkerConfig>('integration-worker', {
    RABBITMQ_NAME_PREFIX: `${process.env['RABBITMQ_NAME_PREFIX']}${unique('w')}.`,
    RETRY_BACKOFF_BASE: 0.2,
    MAX_RETRIES: 3,
    BREAKER_RESET_TIMEOUT_MS: 1000,
    ...overrides,
  });
}

/** A user.created payload for a directory user no other test uses. */
export function newDirectoryUser(): { user_id: string; email: string } {
  const externalId = unique('emp');
  return { user_id: externalId, email: `${externalId}@example.test` };
}

export interface IngestOptions {
  eventId?: string;
  timestamp?: Date;
  requestId?: string;
  /** Publish the message (default) or only store the row. */
  publish?: boolean;
}

/** Produces events into a scenario's topology, as the webhook gateway would. */
export class Producer {
  readonly broker: Broker;
  constructor(
    readonly db: Database,
    readonly config: IntegrationWorkerConfig,
  ) {
    this.broker = connectBroker({
      url: config.RABBITMQ_URL,
      logger: pino({ level: 'silent' }),
      prefix: config.RABBITMQ_NAME_PREFIX,
      maxRetries: config.MAX_RETRIES,
      backoffBase: config.RETRY_BACKOFF_BASE,
      deliveryLimit: config.QUEUE_DELIVERY_LIMIT,
      // declared as the worker declares them: a queue both create at once must get the same arguments
      quorumGroupSize: config.RABBITMQ_QUORUM_GROUP_SIZE,
    });
    this.broker.channel.on('error', (err: Error) => process.stderr.write(`producer channel error: ${err.stack}\n`));
  }

  async ingest(org: Organization, eventType: string, data: Record<string, unknown>, options: IngestOptions = {}): Promise<WebhookEvent> {
    const service = SERVICE_OF[eventType.split('.')[0]];
    const eventId = options.eventId ?? unique('evt');
    const timestamp = options.timestamp ?? new Date();
    const requestId = options.requestId ?? randomUUID();
    const event = await this.db.forOrg(org.id, (transaction) =>
      WebhookEvent.create(
        {
          org_id: org.id,
          service,
          event_id: eventId,
          event_type: eventType,
          event_timestamp: timestamp,
          status: 'queued',
          request_id: requestId,
          payload: { event_id: eventId, event_type: eventType, timestamp: timestamp.toISOString(), organization_id: org.slug, metadata: { source: 'test', version: '1.0' }, data },
        },
        { transaction },
      ),
    );
    if (options.publish !== false) await this.publish(event);
    return event;
  }

  async publish(event: WebhookEvent, retryAttempt = 0): Promise<void> {
    const body: IntegrationMessage = { webhook_event_id: event.id, org_id: event.org_id, service: event.service, event_type: event.event_type, event_id: event.event_id };
    await this.broker.channel.publish(this.broker.names.eventsExchange, routingKey(event.service, event.event_type), Buffer.from(JSON.stringify(body)), {
      persistent: true,
      messageId: event.id,
      contentType: 'application/json',
      headers: { [HEADERS.retryAttempt]: retryAttempt, [HEADERS.requestId]: event.request_id ?? event.id, [HEADERS.orgId]: event.org_id },
    });
  }

  /** Ready messages in a queue of this scenario. */
  async depth(queue: string): Promise<number> {
    return (await this.broker.channel.checkQueue(queue)).messageCount;
  }

  close(): Promise<void> {
    return this.broker.close();
  }
}

export async function reload(db: Database, event: WebhookEvent): Promise<WebhookEvent> {
  const current = await db.forOrg(event.org_id, (transaction) => WebhookEvent.findByPk(event.id, { transaction }));
  if (!current) throw new Error(`webhook event ${event.id} is gone`);
  return current;
}

/** Waits until the event reaches one of `statuses`, and returns it. */
export function settled(db: Database, event: WebhookEvent, statuses: WebhookEventStatus[] = ['processed', 'skipped', 'failed'], timeoutMs = 15000): Promise<WebhookEvent> {
  return eventually(async () => {
    const current = await reload(db, event);
    return statuses.includes(current.status) ? current : null;
  }, timeoutMs);
}

export interface RunningWorker {
  runtime: ServiceRuntime<IntegrationWorkerConfig>;
  worker: Worker;
  stop(): Promise<void>;
}

export async function runWorker(config: IntegrationWorkerConfig, options: WorkerOptions = {}): Promise<RunningWorker> {
  const runtime = createRuntime({ service: 'integration-worker', config, logger: pino({ level: 'silent' }) });
  const worker = await startWorker(runtime, options);
  return {
    runtime,
    worker,
    stop: async () => {
      await worker.close();
      await runtime.close();
    },
  };
}
