import { AuditLog, CommunicationLog, Database, Subscription, WebhookEvent, type Organization, type User } from '@saas/db';
import { reportCircuitState } from '@saas/messaging';
import { createOrg, createUser, eventually, spawnTs, unique, waitForExit } from '@saas/testing';
import type { GatewayUnderTest } from '../webhooks/webhooks.spec-helper';
import { bearer, call, startIntegrationsGateway, storeEvent } from './integrations.spec-helper';

const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 4 });
let gw: GatewayUnderTest;
let org: Organization;
let admin: User;
let otherAdmin: User;
let superadmin: User;

beforeAll(async () => {
  gw = await startIntegrationsGateway({ INTEGRATION_STATUS_WINDOW_SECONDS: 600 });
  superadmin = await createUser(db, { role: 'superadmin' });
});
afterAll(async () => {
  await gw.close();
  await db.close();
});
beforeEach(async () => {
  org = await createOrg(db);
  admin = await createUser(db, { orgId: org.id, role: 'admin' });
  otherAdmin = await createUser(db, { orgId: (await createOrg(db)).id, role: 'admin' });
});

const get = (path: string, user: User) => call(gw.app.url, path, { headers: bearer(user) });
const post = (path: string, user: User, body?: unknown) => call(gw.app.url, path, { method: 'POST', headers: bearer(user), body });
const status = async (user = admin, query = '') => (await get(`/integrations/status${query}`, user)).body;

describe('GET /integrations/status', () => {
  it('when an organization has never received events, then every integration is idle with a closed or unknown circuit', async () => {
    const body = await status();
    expect(body.window_seconds).toBe(600);
    for (const service of ['user_service', 'payment_service', 'communication_service']) {
      expect(body[service]).toMatchObject({ status: 'idle', processed: 0, retried: 0, failed: 0, pending: 0, last_success: null, last_event_id: null });
    }
  });

  it('when events were processed without trouble, then the integration is healthy with its counts and last event', async () => {
    await storeEvent(db, org.id, { status: 'processed', history: [{ attempt: 1, outcome: 'processed' }] });
    const last = await storeEvent(db, org.id, { status: 'processed', history: [{ attempt: 1, outcome: 'processed' }] });
    await storeEvent(db, org.id, { status: 'processed', service: 'payment_service', eventType: 'subscription.created', history: [{ attempt: 1, outcome: 'processed' }] });
    const body = await status();
    expect(body.user_service).toMatchObject({ status: 'healthy', processed: 2, retried: 0, failed: 0, pending: 0, last_event_id: last.event_id, last_failure: null });
    expect(body.user_service.last_success).not.toBeNull();
    expect(body.payment_service).toMatchObject({ status: 'healthy', processed: 1 });
    expect(body.communication_service.status).toBe('idle');
  });

  it('when an event needed a retry within the window, then the integration is degraded with the retry, the last failure and its error', async () => {
    await storeEvent(db, org.id, { status: 'processed', history: [{ attempt: 1, outcome: 'processed', secondsAgo: 30 }] });
    await storeEvent(db, org.id, {
      status: 'processed',
      lastError: 'provider timeout',
      history: [
        { attempt: 1, outcome: 'retrying', error: 'provider timeout', delay_ms: 2000, secondsAgo: 10 },
        { attempt: 2, outcome: 'processed', secondsAgo: 8 },
      ],
    });
    await storeEvent(db, org.id, { status: 'retrying', lastError: 'provider down', history: [{ attempt: 1, outcome: 'retrying', error: 'provider down', secondsAgo: 1 }] });
    const body = await status();
    expect(body.user_service).toMatchObject({ status: 'degraded', processed: 2, retried: 2, failed: 0, pending: 1, last_error: 'provider down' });
    expect(Date.now() - Date.parse(body.user_service.last_failure)).toBeLessThan(5000);
  });

  it('when trouble happened only before the window, then the integration is healthy again', async () => {
    await storeEvent(db, org.id, { status: 'failed', lastError: 'old', history: [{ attempt: 1, outcome: 'failed', error: 'old', secondsAgo: 3600 }], updatedSecondsAgo: 3600 });
    await storeEvent(db, org.id, { status: 'processed', history: [{ attempt: 1, outcome: 'processed' }] });
    expect((await status()).user_service).toMatchObject({ status: 'healthy', failed: 0, last_error: 'old' });
  });

  it('when the last three finished events all failed, then the integration is in error', async () => {
    await storeEvent(db, org.id, { status: 'processed', history: [{ attempt: 1, outcome: 'processed', secondsAgo: 60 }], updatedSecondsAgo: 60 });
    for (let i = 0; i < 3; i += 1) await storeEvent(db, org.id, { status: 'failed', lastError: 'boom', history: [{ attempt: 1, outcome: 'failed', error: 'boom' }] });
    expect((await status()).user_service).toMatchObject({ status: 'error', failed: 3 });
  });

  it('when events failed and none ever succeeded, then the integration is in error', async () => {
    await storeEvent(db, org.id, { service: 'communication_service', eventType: 'message.delivered', status: 'retrying', lastError: 'x', history: [{ attempt: 1, outcome: 'retrying', error: 'x' }] });
    expect((await status()).communication_service.status).toBe('error');
  });

  it("when a worker reports a service's circuit open, then that integration is in error and shows the open circuit", async () => {
    await storeEvent(db, org.id, { service: 'payment_service', eventType: 'subscription.created', status: 'processed', history: [{ attempt: 1, outcome: 'processed' }] });
    await reportCircuitState(gw.runtime.redis, gw.config.REDIS_KEY_PREFIX, 'payment_service', unique('worker'), 'open');
    try {
      expect((await status()).payment_service).toMatchObject({ status: 'error', circuit: 'open' });
    } finally {
      await gw.runtime.redis.del(`${gw.config.REDIS_KEY_PREFIX}integration:circuit:payment_service`);
    }
  });

  it("when an admin of another organization asks, then they see their own (idle) status, and another org's id answers 404", async () => {
    await storeEvent(db, org.id, { status: 'processed', history: [{ attempt: 1, outcome: 'processed' }] });
    expect((await status(otherAdmin)).user_service.status).toBe('idle');
    expect((await get(`/integrations/status?org_id=${org.id}`, otherAdmin)).status).toBe(404);
    expect((await status(superadmin, `?org_id=${org.id}`)).user_service.status).toBe('healthy');
  });

  it("when a superadmin asks without org_id, then the figures count every organization's events", async () => {
    // other specs of this run store events too: the all-organizations figures are at least these
    const otherOrg = otherAdmin.org_id!;
    for (const orgId of [org.id, otherOrg]) {
      await storeEvent(db, orgId, { service: 'payment_service', eventType: 'subscription.created', status: 'queued', history: [] });
      await storeEvent(db, orgId, { service: 'payment_service', eventType: 'subscription.created', status: 'processed', history: [{ attempt: 1, outcome: 'processed' }] });
    }
    const all = (await status(superadmin)).payment_service;
    expect(all.pending).toBeGreaterThanOrEqual(2);
    expect(all.processed).toBeGreaterThanOrEqual(2);
    expect(all.status).not.toBe('idle');
    expect((await status(admin)).payment_service).toMatchObject({ pending: 1, processed: 1 });
  });

  it('when a plain user or nobody asks, then the answer is 403 or 401', async () => {
    const user = await createUser(db, { orgId: org.id });
    expect((await get('/integrations/status', user)).status).toBe(403);
    const anonymous = await call(gw.app.url, '/integrations/status');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });
});

describe('GET /integrations/events', () => {
  it('when an event is stored but its publish is not confirmed yet, then it shows as received, and once it left the outbox as queued', async () => {
    const waiting = await storeEvent(db, org.id, { service: 'communication_service', eventType: 'message.delivered', status: 'received', inOutbox: true });
    const published = await storeEvent(db, org.id, { service: 'communication_service', eventType: 'message.delivered', status: 'received' });
    const shown = async (status: string) =>
      (await get(`/integrations/events?service=communication_service&status=${status}`, admin)).body.items.map((e: { id: string; status: string }) => [e.id, e.status]);
    expect(await shown('received')).toContainEqual([waiting.id, 'received']);
    expect(await shown('received')).not.toContainEqual([published.id, expect.anything()]);
    expect(await shown('queued')).toContainEqual([published.id, 'queued']);
    expect(await shown('queued')).not.toContainEqual([waiting.id, expect.anything()]);
    expect((await get(`/integrations/events/${waiting.id}`, admin)).body.status).toBe('received');
    expect((await get(`/integrations/events/${published.id}`, admin)).body.status).toBe('queued');
  });

  it('when events are listed, then they come newest first, filtered and paginated, with the history only on the detail', async () => {
    const events = [];
    for (let i = 0; i < 3; i += 1) events.push(await storeEvent(db, org.id, { status: 'processed', history: [{ attempt: 1, outcome: 'processed' }] }));
    await storeEvent(db, org.id, { service: 'payment_service', eventType: 'subscription.created' });
    const first = await get('/integrations/events?service=user_service&limit=2', admin);
    expect(first.status).toBe(200);
    expect(first.body.items.map((e: { id: string }) => e.id)).toEqual([events[2].id, events[1].id]);
    expect(first.body.items[0].history).toBeUndefined();
    const second = await get(`/integrations/events?service=user_service&limit=2&cursor=${first.body.next_cursor}`, admin);
    expect(second.body).toMatchObject({ items: [{ id: events[0].id }], next_cursor: null });
    const detail = await get(`/integrations/events/${events[0].id}`, admin);
    expect(detail.body).toMatchObject({ id: events[0].id, status: 'processed', attempts: 1, payload: { event_type: 'user.created' } });
    expect(detail.body.history).toEqual([expect.objectContaining({ attempt: 1, outcome: 'processed' })]);
  });

  it("when an admin of another organization looks, then the list is empty and the event answers 404, as does a malformed id", async () => {
    const event = await storeEvent(db, org.id);
    expect((await get('/integrations/events', otherAdmin)).body).toEqual({ items: [], next_cursor: null });
    expect((await get(`/integrations/events/${event.id}`, otherAdmin)).status).toBe(404);
    expect((await post(`/integrations/events/${event.id}/replay`, otherAdmin)).status).toBe(404);
    expect((await get('/integrations/events/not-a-uuid', admin)).status).toBe(404);
  });

  it('when a filter is invalid or the cursor forged, then the answer is 422', async () => {
    expect((await get('/integrations/events?status=bogus', admin)).status).toBe(422);
    expect((await get('/integrations/events?cursor=forged', admin)).status).toBe(422);
    expect((await get('/integrations/events?limit=500', admin)).status).toBe(422);
  });
});

describe('replay', () => {
  it('when an event that has not failed is replayed, then the answer is 409', async () => {
    const event = await storeEvent(db, org.id, { status: 'processed', history: [{ attempt: 1, outcome: 'processed' }] });
    const res = await post(`/integrations/events/${event.id}/replay`, admin);
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('when a bulk replay is a dry run, then it counts the matching dead letters and sends nothing', async () => {
    const failed = [];
    for (let i = 0; i < 2; i += 1) failed.push(await storeEvent(db, org.id, { status: 'failed', lastError: 'x', history: [{ attempt: 1, outcome: 'failed' }] }));
    await storeEvent(db, org.id, { service: 'payment_service', eventType: 'subscription.created', status: 'failed', lastError: 'x' });
    const res = await post('/integrations/dead-letters/replay', admin, { service: 'user_service', dry_run: true });
    expect(res.body).toEqual({ matched: 2, replayed: 0 });
    const queue = await gw.runtime.broker.channel.checkQueue(gw.runtime.broker.names.serviceQueue('user_service'));
    expect(queue.messageCount).toBe(0);
    for (const event of failed) expect((await db.forOrg(org.id, (transaction) => WebhookEvent.findByPk(event.id, { transaction })))!.status).toBe('failed');
    expect((await post('/integrations/dead-letters/replay', otherAdmin, { dry_run: true })).body).toEqual({ matched: 0, replayed: 0 });
  });

  it('when events fail for good and are replayed once the fault clears, then they are processed, and every replay is audited', async () => {
    const names = gw.runtime.broker.names;
    const env = { RABBITMQ_NAME_PREFIX: gw.config.RABBITMQ_NAME_PREFIX, RETRY_BACKOFF_BASE: 0.05, MAX_RETRIES: 1, INTEGRATION_WORKER_PORT: 0 };
    const consumers = async () => (await gw.runtime.broker.channel.checkQueue(names.serviceQueue('user_service'))).consumerCount;
    const users = [0, 1, 2].map(() => unique('emp'));
    const events = [];
    for (const externalId of users) events.push(await storeEvent(db, org.id, { data: { user_id: externalId, email: `${externalId}@example.test` } }));
    const publish = async (event: WebhookEvent) =>
      gw.runtime.broker.channel.publish(names.eventsExchange, `user_service.user.created`, Buffer.from(JSON.stringify({ webhook_event_id: event.id, org_id: org.id, service: 'user_service', event_type: 'user.created', event_id: event.event_id })), {
        persistent: true,
        messageId: event.id,
        headers: { 'x-retry-attempt': 0, 'x-request-id': 'req-replay', 'x-org-id': org.id },
      });

    const faulty = spawnTs('apps/integration-worker/src/main.ts', { ...env, FORCE_SERVICE_FAILURES: 100 });
    try {
      await eventually(async () => (await consumers()) === 1, 20000);
      for (const event of events) await publish(event);
      for (const event of events) {
        await eventually(async () => (await db.forOrg(org.id, (transaction) => WebhookEvent.findByPk(event.id, { transaction })))!.status === 'failed', 15000);
      }
    } finally {
      faulty.kill('SIGTERM');
      await waitForExit(faulty);
    }

    const healthy = spawnTs('apps/integration-worker/src/main.ts', { ...env, FORCE_SERVICE_FAILURES: 0 });
    try {
      await eventually(async () => (await consumers()) === 1, 20000);
      const single = await post(`/integrations/events/${events[0].id}/replay`, admin);
      expect(single.status).toBe(202);
      expect(single.body).toMatchObject({ id: events[0].id, status: 'queued' });
      const bulk = await post('/integrations/dead-letters/replay', admin, { service: 'user_service' });
      expect(bulk.body).toEqual({ matched: 2, replayed: 2 });
      for (const event of events) {
        const done = await eventually(async () => {
          const current = (await db.forOrg(org.id, (transaction) => WebhookEvent.findByPk(event.id, { transaction })))!;
          return current.status === 'processed' ? current : null;
        }, 15000);
        expect(done.history.map((h) => h.outcome)).toEqual(['retrying', 'failed', 'replayed', 'processed']);
      }
    } finally {
      healthy.kill('SIGTERM');
      await waitForExit(healthy);
    }
    const replayAudits = await db.forOrg(org.id, (transaction) => AuditLog.findAll({ where: { action: 'integration.event.replayed' }, transaction }));
    expect(replayAudits.map((a) => a.target_id).sort()).toEqual(events.map((e) => e.id).sort());
    expect(replayAudits.every((a) => a.actor_id === admin.id && a.actor_type === 'user')).toBe(true);
  }, 90000);
});

describe('GET /subscriptions and /communication-logs', () => {
  it('when synced subscriptions are listed, then filters apply and other organizations see none of them', async () => {
    const make = (status: string, plan: string) =>
      db.forOrg(org.id, (transaction) => Subscription.create({ org_id: org.id, subscription_id: unique('sub'), plan, status, amount: '10.00', last_event_at: new Date() }, { transaction }));
    const active = await make('active', 'basic');
    await make('past_due', 'enterprise');
    const res = await get('/subscriptions?status=active', admin);
    expect(res.body.items).toEqual([expect.objectContaining({ id: active.id, status: 'active', plan: 'basic', amount: 10 })]);
    expect((await get('/subscriptions?plan=enterprise', admin)).body.items).toHaveLength(1);
    expect((await get('/subscriptions', otherAdmin)).body.items).toEqual([]);
    expect((await get(`/subscriptions?org_id=${org.id}`, superadmin)).body.items).toHaveLength(2);
  });

  it('when communication logs are listed, then recipient matches case-insensitively and pages follow the cursor', async () => {
    for (let i = 0; i < 3; i += 1) {
      await db.forOrg(org.id, (transaction) =>
        CommunicationLog.create({ org_id: org.id, message_id: unique('msg'), recipient: i === 0 ? 'Ann@Example.test' : `r${i}@example.test`, template: 'welcome', status: 'delivered' }, { transaction }),
      );
    }
    expect((await get('/communication-logs?recipient=ann@example.TEST', admin)).body.items).toHaveLength(1);
    const first = await get('/communication-logs?limit=2', admin);
    expect(first.body.items).toHaveLength(2);
    const second = await get(`/communication-logs?limit=2&cursor=${first.body.next_cursor}`, admin);
    expect(second.body.items).toHaveLength(1);
    expect((await get('/communication-logs', otherAdmin)).body.items).toEqual([]);
    const user = await createUser(db, { orgId: org.id });
    expect((await get('/communication-logs', user)).status).toBe(403);
  });
});
