import pino from 'pino';
import { Database, type Organization, type WebhookEvent } from '@saas/db';
import { HEADERS, StrandedRetryRelay } from '@saas/messaging';
import { createOrg } from '@saas/testing';
import { newDirectoryUser, Producer, reload, runWorker, scenarioConfig, settled } from './harness.spec-helper';

const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 4 });
afterAll(() => db.close());

let org: Organization;
beforeEach(async () => {
  org = await createOrg(db);
});


/**
 * An event whose first attempt failed and scheduled a retry that the broker then lost: `retrying`, one attempt,
 * last changed `agoSeconds` ago, and no message for it in any queue.
 */
async function strandedEvent(producer: Producer, agoSeconds: number): Promise<WebhookEvent> {
  const event = await producer.ingest(org, 'user.created', newDirectoryUser(), { publish: false });
  await db.asSystem('test fixture', (transaction) =>
    db.sequelize.query(
      `UPDATE webhook_events SET status = 'retrying', attempts = 1, last_error = 'provider timeout',
              history = jsonb_build_array(jsonb_build_object('attempt', 1, 'at', now(), 'outcome', 'retrying', 'error', 'provider timeout', 'delay_ms', 200)),
              updated_at = now() - make_interval(secs => $2)
        WHERE id = $1`,
      { bind: [event.id, agoSeconds], transaction },
    ),
  );
  return event;
}

describe('stranded retries (a retry the broker never brought back)', () => {
  it('when a retrying event has had no attempt for STRANDED_RETRY_AFTER_MS, then the worker republishes it and it is processed on the next rung', async () => {
    const config = scenarioConfig({ STRANDED_RETRY_AFTER_MS: 2000 });
    const producer = new Producer(db, config);
    const event = await strandedEvent(producer, 60);
    const worker = await runWorker(config);
    try {
      const done = await settled(db, event);
      expect(done).toMatchObject({ status: 'processed', attempts: 2 });
      expect(done.history.map((h) => [h.attempt, h.outcome])).toEqual([
        [1, 'retrying'],
        [2, 'processed'],
      ]);
      expect(await worker.runtime.metrics.registry.metrics()).toMatch(/integration_retries_republished_total(\{[^}]*\})? 1\n/);
    } finally {
      await worker.stop();
      await producer.close();
    }
  });

  it('when a retrying event changed more recently than STRANDED_RETRY_AFTER_MS, then it is left to its retry', async () => {
    const config = scenarioConfig({ STRANDED_RETRY_AFTER_MS: 60000 });
    const producer = new Producer(db, config);
    const event = await strandedEvent(producer, 30);
    const relay = new StrandedRetryRelay({ db, broker: producer.broker, logger: pino({ level: 'silent' }), strandedAfterMs: 60000, intervalMs: 1000 });
    try {
      await producer.broker.channel.waitForConnect();
      await relay.pass();
      expect(await producer.depth(producer.broker.names.serviceQueue('user_service'))).toBe(0);
      expect((await reload(db, event)).status).toBe('retrying');
    } finally {
      await producer.close();
    }
  });

  it('when two workers look at once, then a stranded event is republished once, with its retry counter, and waits another period', async () => {
    const config = scenarioConfig();
    const producer = new Producer(db, config);
    const event = await strandedEvent(producer, 600);
    const relay = () => new StrandedRetryRelay({ db, broker: producer.broker, logger: pino({ level: 'silent' }), strandedAfterMs: 300000, intervalMs: 1000 });
    const queue = producer.broker.names.serviceQueue('user_service');
    try {
      await producer.broker.channel.waitForConnect();
      await Promise.all([relay().pass(), relay().pass()]);
      expect(await producer.depth(queue)).toBe(1);
      const message = await producer.broker.channel.get(queue, { noAck: true });
      expect(message && JSON.parse(message.content.toString())).toMatchObject({ webhook_event_id: event.id, org_id: org.id, event_type: 'user.created' });
      expect(message && message.properties.headers?.[HEADERS.retryAttempt]).toBe(1);
      // touched: the next look finds nothing stranded
      await relay().pass();
      expect(await producer.depth(queue)).toBe(0);
    } finally {
      await producer.close();
    }
  });
});
