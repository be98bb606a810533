import { QueryTypes } from 'sequelize';
import { DEV_SECRETS } from '@saas/config';
import { SERVICE_EVENT_TYPES, INTEGRATION_SERVICES, type IntegrationService } from '@saas/contracts';
import { routingKey } from '@saas/messaging';
import { createMetricsApp } from '@saas/http';
import { createOrg, eventually, startApp, unique } from '@saas/testing';
import {
  QueueWatcher,
  endpointOf,
  exampleEvent,
  secretOf,
  send,
  startGateway,
  storedEvents,
  type GatewayUnderTest,
} from './webhooks.spec-helper';

const ROTATED_SECRET = `whsec_${Buffer.from('the-new-user-service-secret-0123456789').toString('base64')}`;

let gw: GatewayUnderTest;
let watcher: QueueWatcher;
let orgSlug: string;
let orgId: string;
let userSecret: string;

beforeAll(async () => {
  // Two user-service secrets: the current one and the one providers are rotating to.
  userSecret = DEV_SECRETS.WEBHOOK_SECRET_USER_SERVICE;
  gw = await startGateway({ WEBHOOK_SECRET_USER_SERVICE: `${userSecret} ${ROTATED_SECRET}` });
  watcher = await new QueueWatcher().start(gw.runtime);
  const org = await createOrg(gw.runtime.db);
  orgSlug = org.slug;
  orgId = org.id;
});

afterAll(async () => {
  await watcher.stop();
  await gw.close();
});

const url = () => gw.app.url;
const userEvent = (overrides: Record<string, unknown> = {}) => exampleEvent('user.created', orgSlug, overrides);

describe('signatures', () => {
  it('when an event is signed with the current secret, then it is accepted', async () => {
    const event = userEvent();
    const res = await send(url(), 'user-service', event, { secret: userSecret });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ status: 'received', event_id: event['event_id'], result: 'accepted' });
  });

  it('when an event is signed with the rotated-in secret, then it is accepted too', async () => {
    const res = await send(url(), 'user-service', userEvent(), { secret: ROTATED_SECRET });
    expect(res.status).toBe(202);
  });

  const rejected: [string, (event: Record<string, unknown>) => Promise<Awaited<ReturnType<typeof send>>>, string][] = [
    ['a wrong secret', (e) => send(url(), 'user-service', e, { secret: secretOf(gw.config, 'payment_service') }), 'invalid_signature'],
    ['no signature headers', (e) => send(url(), 'user-service', e, { secret: userSecret, headers: { 'webhook-signature': '' } }), 'missing_signature'],
    ['a stale timestamp', (e) => send(url(), 'user-service', e, { secret: userSecret, at: new Date(Date.now() - 301_000) }), 'stale_timestamp'],
    ['a future timestamp', (e) => send(url(), 'user-service', e, { secret: userSecret, at: new Date(Date.now() + 301_000) }), 'future_timestamp'],
    [
      'a body altered after signing',
      (e) => send(url(), 'user-service', e, { secret: userSecret, signedBody: JSON.stringify({ ...e, data: { user_id: 'someone-else' } }) }),
      'invalid_signature',
    ],
  ];
  it.each(rejected)('when a request carries %s, then it is 401 problem+json and nothing is stored', async (_label, deliver, code) => {
    const event = userEvent();
    const res = await deliver(event);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 401, code });
    expect(await storedEvents(gw.runtime, [String(event['event_id'])])).toEqual([]);
  });

  it('when the signature headers are missing entirely, then it is 401', async () => {
    const res = await fetch(`${url()}/webhooks/user-service`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(userEvent()) });
    expect(res.status).toBe(401);
  });
});

describe('every event type', () => {
  const cases = INTEGRATION_SERVICES.flatMap((service) => SERVICE_EVENT_TYPES[service].map((type) => [service, type] as [IntegrationService, string]));
  it.each(cases)('when %s sends a valid %s, then it is stored, answered accepted and published once to the service queue', async (service, type) => {
    const event = exampleEvent(type, orgSlug, { unknown_future_field: { kept: true } });
    const res = await send(url(), endpointOf(service), event, { secret: secretOf(gw.config, service), headers: { 'x-request-id': 'req-every-type' } });
    expect(res.status).toBe(202);
    expect(res.body.result).toBe('accepted');

    const [row] = await storedEvents(gw.runtime, [String(event['event_id'])]);
    expect(row).toMatchObject({ org_id: orgId, event_id: event['event_id'] });
    expect(row.payload['unknown_future_field']).toEqual({ kept: true });
    const [message] = await eventually(async () => watcher.seen.get(row.id));
    expect(message).toMatchObject({
      routingKey: routingKey(service, type),
      persistent: true,
      body: { webhook_event_id: row.id, org_id: orgId, service, event_type: type, event_id: event['event_id'] },
      headers: { 'x-retry-attempt': 0, 'x-request-id': 'req-every-type', 'x-org-id': orgId },
    });
    const marked = await eventually(async () => !(await storedEvents(gw.runtime, [String(event['event_id'])]))[0].in_outbox);
    expect(marked).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(watcher.count(row.id)).toBe(1);
  });
});

describe('validation', () => {
  it('when an event has an invalid shape, then it is 422 invalid_event with the failing fields', async () => {
    const res = await send(url(), 'user-service', userEvent({ data: { email: 'not-an-email' }, timestamp: 'yesterday' }), { secret: userSecret });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('invalid_event');
    expect(res.body.errors?.map((e) => e.path)).toEqual(expect.arrayContaining(['timestamp']));
  });

  it('when the data of an event type misses a required field, then it is 422 invalid_event naming it', async () => {
    const event = exampleEvent('payment.failed', orgSlug);
    delete (event['data'] as Record<string, unknown>)['failure_reason'];
    const res = await send(url(), 'payment-service', event, { secret: secretOf(gw.config, 'payment_service') });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual([expect.objectContaining({ path: 'data.failure_reason', code: 'invalid_event' })]);
  });

  it('when an event type belongs to another endpoint, then it is 422 unknown_event_type', async () => {
    const res = await send(url(), 'payment-service', userEvent(), { secret: secretOf(gw.config, 'payment_service') });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('unknown_event_type');
  });

  it('when the organization does not exist, then it is 422 unknown_organization and no organization is created', async () => {
    const slug = unique('ghost');
    const res = await send(url(), 'user-service', userEvent({ organization_id: slug }), { secret: userSecret });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('unknown_organization');
    const [{ n }] = await gw.runtime.db.asSystem('test assertion', (transaction) =>
      gw.runtime.db.sequelize.query<{ n: number }>('SELECT count(*)::int AS n FROM organizations WHERE slug = $1', { bind: [slug], type: QueryTypes.SELECT, transaction }),
    );
    expect(n).toBe(0);
  });

  it('when the organization is suspended, then it is 422 organization_inactive', async () => {
    const suspended = await createOrg(gw.runtime.db, { status: 'suspended' });
    const res = await send(url(), 'user-service', userEvent({ organization_id: suspended.slug }), { secret: userSecret });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('organization_inactive');
  });

  it("when the organization is named by its UUID, then the event is accepted for it", async () => {
    const event = userEvent({ organization_id: orgId });
    const res = await send(url(), 'user-service', event, { secret: userSecret });
    expect(res.status).toBe(202);
    expect((await storedEvents(gw.runtime, [String(event['event_id'])]))[0].org_id).toBe(orgId);
  });

  it('when a batch mixes valid, invalid and repeated events, then each gets its result and the valid ones are stored', async () => {
    const good = userEvent();
    const ghost = userEvent({ organization_id: unique('ghost') });
    const wrongType = exampleEvent('message.delivered', orgSlug);
    const res = await send(url(), 'user-service', { events: [good, { event_id: 'broken' }, ghost, wrongType, good] }, { secret: userSecret });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'received', accepted: 1, duplicates: 1, rejected: 3 });
    expect(res.body.results?.map((r) => [r.index, r.result, r.code])).toEqual([
      [0, 'accepted', undefined],
      [1, 'rejected', 'invalid_event'],
      [2, 'rejected', 'unknown_organization'],
      [3, 'rejected', 'unknown_event_type'],
      [4, 'duplicate', undefined],
    ]);
    const rows = await storedEvents(gw.runtime, [String(good['event_id']), String(ghost['event_id']), String(wrongType['event_id'])]);
    expect(rows.map((r) => [r.event_id, r.duplicate_count])).toEqual([[good['event_id'], 1]]);
  });

  it('when no event of a batch is valid, then it is 422 with per-item errors', async () => {
    const res = await send(url(), 'user-service', { events: [{ nope: 1 }, userEvent({ organization_id: unique('ghost') })] }, { secret: userSecret });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('no_valid_events');
    expect(res.body.errors?.map((e) => e.path)).toEqual(expect.arrayContaining(['events.0.event_id', 'events.1.organization_id']));
  });

  it('when a batch is empty or larger than WEBHOOK_MAX_BATCH, then it is 422 invalid_batch', async () => {
    expect((await send(url(), 'user-service', { events: [] }, { secret: userSecret })).body.code).toBe('invalid_batch');
    const tooMany = Array.from({ length: gw.config.WEBHOOK_MAX_BATCH + 1 }, () => ({ e: 1 }));
    const res = await send(url(), 'user-service', { events: tooMany }, { secret: userSecret });
    expect([res.status, res.body.code]).toEqual([422, 'invalid_batch']);
  });

  it('when the body is malformed JSON, then it is 400', async () => {
    const res = await send(url(), 'user-service', '{"event_id": ', { secret: userSecret });
    expect([res.status, res.body.code]).toEqual([400, 'malformed_json']);
  });

  it('when the body is not JSON, then it is 415', async () => {
    const res = await send(url(), 'user-service', 'event_id=1', { secret: userSecret, headers: { 'content-type': 'text/plain' } });
    expect(res.status).toBe(415);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
  });

  it('when the body is larger than WEBHOOK_MAX_BODY_BYTES, then it is 413', async () => {
    const big = userEvent({ padding: 'x'.repeat(gw.config.WEBHOOK_MAX_BODY_BYTES) });
    const res = await send(url(), 'user-service', big, { secret: userSecret });
    expect(res.status).toBe(413);
  });

  it.each([
    ['an escaped NUL', { note: 'a\u0000b' }],
    ['an unpaired surrogate in a value', { note: '\ud800' }],
    ['an unpaired surrogate in a key', { '\udc00': 'x' }],
  ])('when a string carries %s, then the event is rejected as invalid rather than failing the commit', async (_label, extra) => {
    const res = await send(url(), 'user-service', userEvent(extra), { secret: userSecret });
    expect([res.status, res.body.code]).toEqual([422, 'invalid_event']);
  });
});

describe('idempotency', () => {
  it('when one event is delivered 50 times at once, then 1 is accepted, 49 are duplicates, 1 row and 1 message exist', async () => {
    const event = userEvent();
    const body = JSON.stringify(event);
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => send(url(), 'user-service', body, { secret: userSecret, id: `msg_retry_${i}` })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(202));
    const results = answers.map((a) => a.body.result);
    expect(results.filter((r) => r === 'accepted')).toHaveLength(1);
    expect(results.filter((r) => r === 'duplicate')).toHaveLength(49);
    const rows = await storedEvents(gw.runtime, [String(event['event_id'])]);
    expect(rows).toHaveLength(1);
    expect(rows[0].duplicate_count).toBe(49);
    await eventually(async () => watcher.count(rows[0].id) === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(watcher.count(rows[0].id)).toBe(1);
  });

  it('when an event is redelivered later, then it is a duplicate counted on the original row', async () => {
    const event = userEvent();
    await send(url(), 'user-service', event, { secret: userSecret });
    const again = await send(url(), 'user-service', event, { secret: userSecret });
    expect(again.body.result).toBe('duplicate');
    const [row] = await storedEvents(gw.runtime, [String(event['event_id'])]);
    expect(row.duplicate_count).toBe(1);
  });
});

describe('metrics', () => {
  it('when webhooks were received, then /metrics (its own listener) shows them by service and result, ingest latency and the outbox backlog', async () => {
    const metrics = await startApp(createMetricsApp(gw.runtime.metrics.registry));
    const text = await (await fetch(`${metrics.url}/metrics`)).text().finally(() => metrics.close());
    expect(text).toMatch(/webhook_events_total\{service="user_service",result="accepted",code=""[^}]*\} [1-9]/);
    expect(text).toMatch(/webhook_events_total\{service="user_service",result="rejected",code="unknown_organization"/);
    expect(text).toMatch(/webhook_ingest_duration_seconds_count\{service="user_service",kind="single"/);
    expect(text).toMatch(/webhook_outbox_backlog/);
  });
});

describe('documentation', () => {
  it('when the OpenAPI document is read, then it describes the three webhook endpoints with their signature headers', async () => {
    const doc = (await (await fetch(`${url()}/openapi.json`)).json()) as { paths: Record<string, { post?: { parameters?: { name: string }[]; responses: Record<string, unknown> } }> };
    for (const endpoint of ['user-service', 'payment-service', 'communication-service']) {
      const post = doc.paths[`/webhooks/${endpoint}`]?.post;
      expect(post?.parameters?.map((p) => p.name)).toEqual(['webhook-id', 'webhook-timestamp', 'webhook-signature']);
      expect(Object.keys(post?.responses ?? {})).toEqual(expect.arrayContaining(['202', '401', '413', '415', '422', '429', '503']));
    }
  });
});

describe('database unavailable', () => {
  it('when the database is unreachable, then a webhook is answered 503 with Retry-After', async () => {
    const down = await startGateway({ DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none' });
    try {
      const event = userEvent();
      const res = await send(down.app.url, 'user-service', event, { secret: secretOf(down.config, 'user_service') });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(res.body.code).toBe('database_unavailable');
    } finally {
      await down.close();
    }
  });
});
