import { AuditLog, Database, User, type Organization } from '@saas/db';
import { readCircuitState, type IntegrationService } from '@saas/messaging';
import { createOrg, eventually, spawnTs, unique, waitForExit } from '@saas/testing';
import { newDirectoryUser, Producer, runWorker, scenarioConfig, settled, type RunningWorker } from './harness.spec-helper';
import { ProviderError, SimulatedProvider, type ProviderAdapter } from './providers';

const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 4 });
afterAll(() => db.close());

let org: Organization;
beforeEach(async () => {
  org = await createOrg(db);
});


describe('retry ladder and dead letters', () => {
  it('when the provider fails twice (FORCE_SERVICE_FAILURES=2, 3 retries), then the event is processed on attempt 3 after waits of base and 2 × base', async () => {
    const config = scenarioConfig({ FORCE_SERVICE_FAILURES: 2, RETRY_BACKOFF_BASE: 0.2 });
    const worker = await runWorker(config);
    const producer = new Producer(db, config);
    try {
      const event = await settled(db, await producer.ingest(org, 'user.created', newDirectoryUser()));
      expect(event).toMatchObject({ status: 'processed', attempts: 3, last_error: 'user_service provider error: simulated failure 2 of 2' });
      expect(event.history.map((h) => [h.attempt, h.outcome, h.delay_ms])).toEqual([
        [1, 'retrying', 200],
        [2, 'retrying', 400],
        [3, 'processed', undefined],
      ]);
      const at = event.history.map((h) => Date.parse(h.at));
      const waits = [at[1] - at[0], at[2] - at[1]];
      expect(waits[0]).toBeGreaterThanOrEqual(190);
      expect(waits[1]).toBeGreaterThanOrEqual(390);
      expect(waits[1]).toBeGreaterThan(waits[0]);
      const metrics = await worker.runtime.metrics.registry.metrics();
      expect(metrics).toMatch(/integration_events_retried_total\{service="user_service"[^}]*\} 2/);
      expect(metrics).toMatch(/integration_events_processed_total\{service="user_service",outcome="processed"[^}]*\} 1/);
      expect(metrics).toMatch(/integration_event_processing_seconds_count\{service="user_service"[^}]*\} 3/);
      expect(metrics).toMatch(/integration_circuit_state\{service="user_service"[^}]*\} 0/);
      expect(metrics).toMatch(new RegExp(`integration_queue_depth\\{queue="${config.RABBITMQ_NAME_PREFIX.replace(/\./g, '\\.')}integration\\.user_service"[^}]*\\} 0`));
    } finally {
      await worker.stop();
      await producer.close();
    }
  });

  it('when the provider fails every attempt (FORCE_SERVICE_FAILURES=4), then the event is failed with its reason, in the dead-letter queue and audited', async () => {
    const config = scenarioConfig({ FORCE_SERVICE_FAILURES: 4, RETRY_BACKOFF_BASE: 0.1 });
    const worker = await runWorker(config);
    const producer = new Producer(db, config);
    try {
      const data = newDirectoryUser();
      const event = await settled(db, await producer.ingest(org, 'user.created', data, { requestId: 'req-dead-1' }));
      expect(event).toMatchObject({ status: 'failed', attempts: 4 });
      expect(event.last_error).toMatch(/simulated failure 4 of 4/);
      const dead = await eventually(() => producer.broker.channel.get(producer.broker.names.deadLetterQueue, { noAck: true }));
      expect(JSON.parse(dead.content.toString())).toMatchObject({ webhook_event_id: event.id, event_type: 'user.created' });
      expect(dead.fields.routingKey).toBe('user_service.user.created');
      expect(dead.properties.headers?.['x-retry-attempt']).toBe(3);
      expect(dead.properties.headers?.['x-dead-letter-reason']).toMatch(/simulated failure/);
      const audit = await db.forOrg(org.id, (transaction) => AuditLog.findOne({ where: { action: 'integration.event.dead_lettered', target_id: event.id }, transaction }));
      expect(audit).toMatchObject({ request_id: 'req-dead-1', target_type: 'webhook_event' });
      expect(await db.forOrg(org.id, (transaction) => User.count({ where: { external_id: data.user_id }, transaction }))).toBe(0);
    } finally {
      await worker.stop();
      await producer.close();
    }
  });
});

describe('malformed messages', () => {
  it('when a message names an event by something that is not a uuid, then it is dead-lettered as malformed and the event read with it is processed', async () => {
    const config = scenarioConfig();
    const producer = new Producer(db, config);
    const worker = await runWorker(config);
    try {
      const event = await producer.ingest(org, 'user.created', newDirectoryUser(), { publish: false });
      const malformed = { webhook_event_id: 'not-a-uuid', org_id: org.id, service: 'user_service', event_type: 'user.created', event_id: 'evt-bad' };
      await Promise.all([
        producer.broker.channel.publish(producer.broker.names.eventsExchange, 'user_service.user.created', Buffer.from(JSON.stringify(malformed)), { persistent: true }),
        producer.publish(event),
      ]);
      expect(await settled(db, event)).toMatchObject({ status: 'processed', attempts: 1 });
      const dead = await eventually(() => producer.broker.channel.get(producer.broker.names.deadLetterQueue, { noAck: true }));
      expect(JSON.parse(dead.content.toString())).toEqual(malformed);
      expect(dead.properties.headers?.['x-dead-letter-reason']).toBe('malformed message');
    } finally {
      await worker.stop();
      await producer.close();
    }
  });
});

describe('delivery limit', () => {
  it('when a message keeps coming back unacknowledged up to QUEUE_DELIVERY_LIMIT, then the worker fails the event itself (replayable) instead of the broker dropping it', async () => {
    const config = scenarioConfig({ QUEUE_DELIVERY_LIMIT: 2 });
    const producer = new Producer(db, config);
    try {
      await producer.broker.channel.waitForConnect();
      const event = await producer.ingest(org, 'user.created', newDirectoryUser(), { requestId: 'req-crashy' });
      const queue = producer.broker.names.serviceQueue('user_service');
      // two consumers that die mid-message: the broker requeues and counts each
      for (let delivered = 0; delivered < 2; ) {
        const message = await producer.broker.channel.get(queue);
        if (!message) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        producer.broker.channel.nack(message, false, true);
        delivered += 1;
      }
      const worker = await runWorker(config);
      try {
        const failed = await settled(db, event);
        expect(failed).toMatchObject({ status: 'failed' });
        expect(failed.last_error).toMatch(/delivered 3 times without an outcome \(delivery limit 2\)/);
        const dead = await eventually(() => producer.broker.channel.get(producer.broker.names.deadLetterQueue, { noAck: true }));
        expect(JSON.parse(dead.content.toString())).toMatchObject({ webhook_event_id: event.id });
        const audit = await db.forOrg(org.id, (transaction) => AuditLog.count({ where: { action: 'integration.event.dead_lettered', target_id: event.id }, transaction }));
        expect(audit).toBe(1);
      } finally {
        await worker.stop();
      }
    } finally {
      await producer.close();
    }
  });
});

class SwitchableProvider implements ProviderAdapter {
  failing = true;
  calls = 0;
  constructor(readonly service: IntegrationService) {}
  async call(): Promise<void> {
    this.calls += 1;
    if (this.failing) throw new ProviderError(this.service, 'directory offline');
  }
}

describe('circuit breakers', () => {
  it('when a provider fails every call, then its circuit opens and its queue pauses while other services keep flowing; when it recovers, the held events are processed', async () => {
    const config = scenarioConfig({ BREAKER_VOLUME_THRESHOLD: 3, BREAKER_RESET_TIMEOUT_MS: 1500, MAX_RETRIES: 5, RETRY_BACKOFF_BASE: 0.1 });
    const directory = new SwitchableProvider('user_service');
    const worker: RunningWorker = await runWorker(config, {
      providers: [directory, new SimulatedProvider('payment_service', config), new SimulatedProvider('communication_service', config)],
    });
    const producer = new Producer(db, config);
    const userQueue = producer.broker.names.serviceQueue('user_service');
    try {
      const held = [];
      for (let i = 0; i < 4; i += 1) held.push(await producer.ingest(org, 'user.created', newDirectoryUser()));
      await eventually(async () => worker.worker.breakers.state('user_service') === 'open');
      expect(worker.worker.consumers.user_service.consuming).toBe(false);
      expect(await readCircuitState(worker.runtime.redis, config.REDIS_KEY_PREFIX, 'user_service')).toBe('open');
      const callsWhenOpened = directory.calls;

      // while open: new user events wait in their queue; communication events are processed
      const waiting = await producer.ingest(org, 'user.created', newDirectoryUser());
      const message = await settled(db, await producer.ingest(org, 'message.delivered', { message_id: unique('msg'), recipient: 'x@example.test', template: 't' }));
      expect(message.status).toBe('processed');
      expect((await producer.broker.channel.checkQueue(userQueue)).messageCount).toBeGreaterThanOrEqual(1);
      expect(directory.calls).toBe(callsWhenOpened);

      directory.failing = false;
      for (const event of [...held, waiting]) expect((await settled(db, event, ['processed', 'failed'], 20000)).status).toBe('processed');
      await eventually(async () => worker.worker.breakers.state('user_service') === 'closed');
      expect(worker.worker.consumers.user_service.consuming).toBe(true);
      expect(await readCircuitState(worker.runtime.redis, config.REDIS_KEY_PREFIX, 'user_service')).toBe('closed');
    } finally {
      await worker.stop();
      await producer.close();
    }
  }, 40000);
});

describe('crash safety', () => {
  it('when the worker process is killed (SIGKILL) mid-processing and restarted, then every event is applied exactly once', async () => {
    const config = scenarioConfig({ RETRY_BACKOFF_BASE: 0.2 });
    const producer = new Producer(db, config);
    const env = { RABBITMQ_NAME_PREFIX: config.RABBITMQ_NAME_PREFIX, RETRY_BACKOFF_BASE: 0.2, INTEGRATION_WORKER_PORT: 0, WORKER_PREFETCH: 5 };
    const userQueue = producer.broker.names.serviceQueue('user_service');
    const consumers = async () => (await producer.broker.channel.checkQueue(userQueue)).consumerCount;
    try {
      const events = [];
      for (let i = 0; i < 10; i += 1) events.push(await producer.ingest(org, 'user.created', newDirectoryUser(), { publish: false }));
      const first = spawnTs('apps/integration-worker/src/main.ts', { ...env, SIMULATED_PROVIDER_LATENCY_MS: 2000 });
      await eventually(async () => (await consumers()) === 1, 20000);
      for (const event of events) await producer.publish(event);
      // the first deliveries are inside the provider call when the process dies
      await eventually(async () => (await producer.broker.channel.checkQueue(userQueue)).messageCount === events.length - 5);
      first.kill('SIGKILL');
      await waitForExit(first);
      expect(await db.forOrg(org.id, (transaction) => User.count({ transaction }))).toBe(0);

      const second = spawnTs('apps/integration-worker/src/main.ts', env);
      try {
        for (const event of events) expect((await settled(db, event, ['processed', 'failed'], 20000)).status).toBe('processed');
      } finally {
        second.kill('SIGTERM');
        await waitForExit(second);
      }
      const users = await db.forOrg(org.id, (transaction) => User.findAll({ transaction }));
      expect(users).toHaveLength(events.length);
      const audits = await db.forOrg(org.id, (transaction) => AuditLog.count({ where: { action: 'integration.user.synced' }, transaction }));
      expect(audits).toBe(events.length);
      for (const event of events) expect((await settled(db, event)).attempts).toBe(1);
    } finally {
      await producer.close();
    }
  }, 60000);
});
