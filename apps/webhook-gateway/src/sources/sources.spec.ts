import { Writable } from 'node:stream';
import pino from 'pino';
import { QueryTypes, Sequelize } from 'sequelize';
import { verifyAuditChain } from '@saas/audit';
import type { WebhookGatewayConfig } from '@saas/config';
import { AuditLog, Database, WebhookEvent, type Organization, type User } from '@saas/db';
import { createRuntime } from '@saas/runtime';
import { createOrg, createUser, startApp, testConfig, unique } from '@saas/testing';
import { buildWebhookApp } from '../app';
import { createWebhookComponents } from '../webhooks/components';
import { bearer, call } from '../integrations/integrations.spec-helper';
import { exampleEvent, send, storedEvents } from '../webhooks/webhooks.spec-helper';

const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 4 });
/** Everything the gateway logs, at every level: no secret may ever appear in it. */
let logged = '';
let url: string;
let close: () => Promise<void>;
let org: Organization;
let admin: User;
let otherAdmin: User;
let member: User;
let superadmin: User;

beforeAll(async () => {
  const config = testConfig<WebhookGatewayConfig>('webhook-gateway', { RABBITMQ_NAME_PREFIX: `${process.env['RABBITMQ_NAME_PREFIX']}${unique('src')}.` });
  const sink = new Writable({ write: (chunk, _encoding, done) => ((logged += String(chunk)), done()) });
  const runtime = createRuntime({ service: 'webhook-gateway', config, logger: pino({ level: 'trace' }, sink) });
  runtime.broker.channel.on('error', () => undefined);
  await runtime.broker.channel.waitForConnect();
  const app = await startApp(buildWebhookApp(runtime, createWebhookComponents(runtime)));
  url = app.url;
  close = async () => (await app.close(), await runtime.close());
  superadmin = await createUser(db, { role: 'superadmin' });
});
afterAll(async () => {
  await close();
  await db.close();
});
beforeEach(async () => {
  org = await createOrg(db);
  admin = await createUser(db, { orgId: org.id, role: 'admin' });
  member = await createUser(db, { orgId: org.id, role: 'user' });
  otherAdmin = await createUser(db, { orgId: (await createOrg(db)).id, role: 'admin' });
});

const api = (method: string, path: string, user: User, body?: unknown) => call(url, path, { method, headers: bearer(user), body });
const createSource = async (service = 'user_service', user = admin, extra: Record<string, unknown> = {}) => {
  const res = await api('POST', '/integrations/sources', user, { service, ...extra });
  expect(res.status).toBe(201);
  return res.body as { id: string; org_id: string; secret: string; endpoint: string; service: string; name: string; status: string };
};
const deliver = (sourceId: string, secret: string, overrides: Record<string, unknown> = {}, endpoint: 'user-service' | 'payment-service' = 'user-service') =>
  send(url, endpoint, exampleEvent(endpoint === 'user-service' ? 'user.created' : 'subscription.created', org.slug, { data: { user_id: unique('ext'), email: `${unique('dir')}@example.test` }, ...overrides }), { secret, sourceId });

/** The tables' owner: reads columns without row-level security, as a database administrator (or a thief of a dump) would. */
async function asOwner<T extends object>(statement: string, bind: unknown[]): Promise<T[]> {
  const owner = new Sequelize(String(process.env['DATABASE_ADMIN_URL']), { logging: false });
  try {
    return await owner.query<T>(statement, { bind, type: QueryTypes.SELECT });
  } finally {
    await owner.close();
  }
}

describe('integration source lifecycle', () => {
  it('when an admin creates, lists, reads, renames, disables, re-enables, rotates and deletes a source, then each step answers as documented and is audited in the chain', async () => {
    const created = await createSource('user_service', admin, { name: 'HR directory' });
    expect(created).toMatchObject({ org_id: org.id, service: 'user_service', name: 'HR directory', status: 'active', endpoint: `/webhooks/user-service/${created.id}` });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(created.secret.slice(6), 'base64')).toHaveLength(32);

    const listed = await api('GET', '/integrations/sources', admin);
    expect(listed.body.items.map((s: { id: string }) => s.id)).toEqual([created.id]);
    const read = await api('GET', `/integrations/sources/${created.id}`, admin);
    expect(read.status).toBe(200);
    for (const body of [listed.body.items[0], read.body]) expect(body).not.toHaveProperty('secret');

    expect((await api('PATCH', `/integrations/sources/${created.id}`, admin, { name: 'Workday' })).body).toMatchObject({ name: 'Workday', status: 'active' });
    expect((await deliver(created.id, created.secret)).status).toBe(202);
    expect((await api('PATCH', `/integrations/sources/${created.id}`, admin, { status: 'disabled' })).body.status).toBe('disabled');
    expect((await deliver(created.id, created.secret)).status).toBe(401);
    expect((await api('GET', '/integrations/sources?status=disabled', admin)).body.items).toHaveLength(1);
    expect((await api('PATCH', `/integrations/sources/${created.id}`, admin, { status: 'active' })).body.status).toBe('active');
    expect((await deliver(created.id, created.secret)).status).toBe(202);

    const rotated = await api('POST', `/integrations/sources/${created.id}/rotate`, admin, {});
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(created.secret);
    // the default overlap: a day
    expect(Date.parse(rotated.body.previous_secret_expires_at) - Date.now()).toBeGreaterThan(86390_000);

    const stored = await storedEvents({ db }, [(await deliver(created.id, rotated.body.secret)).body.event_id as string]);
    expect((await api('DELETE', `/integrations/sources/${created.id}`, admin)).status).toBe(204);
    expect((await api('GET', `/integrations/sources/${created.id}`, admin)).status).toBe(404);
    expect((await api('PATCH', `/integrations/sources/${created.id}`, admin, { name: 'x' })).status).toBe(404);
    expect((await api('POST', `/integrations/sources/${created.id}/rotate`, admin, {})).status).toBe(404);
    expect((await api('DELETE', `/integrations/sources/${created.id}`, admin)).status).toBe(404);
    expect((await api('GET', '/integrations/sources', admin)).body.items).toEqual([]);
    expect((await deliver(created.id, rotated.body.secret)).status).toBe(401);
    // its events stay, and say which source delivered them
    const kept = await db.forOrg(org.id, (transaction) => WebhookEvent.findByPk(stored[0]!.id, { transaction }));
    expect(kept?.source_id).toBe(created.id);
    const [erased] = await asOwner<{ secret_ciphertext: string | null; previous_secret_ciphertext: string | null }>(
      'SELECT secret_ciphertext, previous_secret_ciphertext FROM integration_sources WHERE id = $1',
      [created.id],
    );
    expect(erased).toEqual({ secret_ciphertext: null, previous_secret_ciphertext: null });

    const audit = await db.forOrg(org.id, (transaction) => AuditLog.findAll({ where: { target_id: created.id }, order: [['seq', 'ASC']], transaction }));
    expect(audit.map((e) => e.action)).toEqual([
      'integration.source.created',
      'integration.source.updated',
      'integration.source.updated',
      'integration.source.updated',
      'integration.source.rotated',
      'integration.source.deleted',
    ]);
    expect(audit.every((e) => e.actor_id === admin.id && e.target_type === 'integration_source')).toBe(true);
    expect(audit[1]?.metadata).toMatchObject({ changes: { name: { from: 'HR directory', to: 'Workday' } } });
    expect(await db.forOrg(org.id, (tx) => verifyAuditChain(tx, org.id))).toMatchObject({ valid: true });
  });

  it('when a secret is rotated with an overlap, then the old one verifies until it expires and not after; with no overlap, at once not at all', async () => {
    const source = await createSource();
    const rotated = await api('POST', `/integrations/sources/${source.id}/rotate`, admin, { overlap_seconds: 2 });
    expect((await deliver(source.id, source.secret)).status).toBe(202);
    expect((await deliver(source.id, rotated.body.secret)).status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, Date.parse(rotated.body.previous_secret_expires_at) - Date.now() + 100));
    expect((await deliver(source.id, source.secret)).status).toBe(401);
    expect((await deliver(source.id, rotated.body.secret)).status).toBe(202);

    const immediate = await api('POST', `/integrations/sources/${source.id}/rotate`, admin, { overlap_seconds: 0 });
    expect(immediate.body.previous_secret_expires_at).toBeNull();
    expect((await deliver(source.id, rotated.body.secret)).status).toBe(401);
    expect((await deliver(source.id, immediate.body.secret)).status).toBe(202);
  });

  it('when a rotation asks for an overlap out of range or a body has unknown fields, then 422 and nothing changes', async () => {
    const source = await createSource();
    for (const body of [{ overlap_seconds: -1 }, { overlap_seconds: 604801 }, { overlap_seconds: 'soon' }, { secret: 'whsec_mine' }]) {
      expect((await api('POST', `/integrations/sources/${source.id}/rotate`, admin, body)).status).toBe(422);
    }
    expect((await api('POST', '/integrations/sources', admin, { service: 'fax_service' })).status).toBe(422);
    expect((await api('POST', '/integrations/sources', admin, { service: 'user_service', secret: 'whsec_mine' })).status).toBe(422);
    expect((await api('PATCH', `/integrations/sources/${source.id}`, admin, {})).status).toBe(422);
    expect((await api('PATCH', `/integrations/sources/${source.id}`, admin, { status: 'deleted' })).status).toBe(422);
    expect((await deliver(source.id, source.secret)).status).toBe(202);
  });
});

describe('integration source visibility', () => {
  it("when another organization's admin asks for a source, then 404 for every operation; a user of the organization gets 403", async () => {
    const source = await createSource();
    for (const [method, path, body] of [
      ['GET', `/integrations/sources/${source.id}`],
      ['PATCH', `/integrations/sources/${source.id}`, { name: 'mine now' }],
      ['POST', `/integrations/sources/${source.id}/rotate`, {}],
      ['DELETE', `/integrations/sources/${source.id}`],
    ] as [string, string, unknown?][]) {
      expect((await api(method, path, otherAdmin, body)).status).toBe(404);
      expect((await api(method, path, member, body)).status).toBe(403);
    }
    expect((await api('GET', '/integrations/sources', otherAdmin)).body.items).toEqual([]);
    expect((await api('GET', `/integrations/sources?org_id=${org.id}`, otherAdmin)).status).toBe(404);
    expect((await api('POST', '/integrations/sources', otherAdmin, { service: 'user_service', org_id: org.id })).status).toBe(404);
    expect((await api('GET', '/integrations/sources', member)).status).toBe(403);
    expect((await api('POST', '/integrations/sources', member, { service: 'user_service' })).status).toBe(403);
    expect((await deliver(source.id, source.secret)).status).toBe(202);
  });

  it('when a superadmin manages sources, then org_id is required to create one, and every organization is visible', async () => {
    expect((await api('POST', '/integrations/sources', superadmin, { service: 'payment_service' })).status).toBe(422);
    expect((await api('POST', '/integrations/sources', superadmin, { service: 'payment_service', org_id: '00000000-0000-4000-8000-000000000000' })).status).toBe(404);
    const source = await createSource('payment_service', superadmin, { org_id: org.id });
    expect(source.org_id).toBe(org.id);
    expect((await api('GET', `/integrations/sources?org_id=${org.id}`, superadmin)).body.items.map((s: { id: string }) => s.id)).toEqual([source.id]);
    expect((await api('GET', `/integrations/sources/${source.id}`, superadmin)).status).toBe(200);
    expect((await api('GET', `/integrations/sources/${source.id}`, admin)).status).toBe(200);
  });
});

describe('deliveries to a source endpoint', () => {
  it('when the source is unknown, malformed, of another service or signed with another source’s secret, then the same 401 and nothing is stored', async () => {
    const userSource = await createSource('user_service');
    const otherSource = await createSource('user_service');
    const attempts = [
      { id: '5b0e7f7c-6c1e-4c47-9d8e-0e8f3f1d2a10', secret: userSource.secret, endpoint: 'user-service' as const },
      { id: 'not-a-uuid', secret: userSource.secret, endpoint: 'user-service' as const },
      { id: userSource.id, secret: userSource.secret, endpoint: 'payment-service' as const },
      { id: userSource.id, secret: otherSource.secret, endpoint: 'user-service' as const },
    ];
    const eventIds: string[] = [];
    for (const { id, secret, endpoint } of attempts) {
      const event = exampleEvent(endpoint === 'user-service' ? 'user.created' : 'subscription.created', org.slug);
      eventIds.push(event['event_id'] as string);
      const res = await send(url, endpoint, event, { secret, sourceId: id });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ code: 'invalid_signature', status: 401 });
    }
    expect(await storedEvents({ db }, eventIds)).toEqual([]);
  });

  it('when an event names another organization, then it is rejected organization_mismatch (single: 422; batch: that event only); naming none or its own, then it goes to the source’s organization', async () => {
    const source = await createSource();
    const other = await createOrg(db);
    const single = await deliver(source.id, source.secret, { organization_id: other.slug });
    expect(single.status).toBe(422);
    expect(single.body.code).toBe('organization_mismatch');

    const { organization_id: _omitted, ...withoutOrg } = exampleEvent('user.created', org.slug);
    const batch = await send(
      url,
      'user-service',
      { events: [withoutOrg, exampleEvent('user.created', other.id), exampleEvent('user.created', org.slug), exampleEvent('user.created', org.id.toUpperCase())] },
      { secret: source.secret, sourceId: source.id },
    );
    expect(batch.status).toBe(202);
    expect(batch.body).toMatchObject({ accepted: 3, rejected: 1 });
    expect(batch.body.results?.[1]).toMatchObject({ result: 'rejected', code: 'organization_mismatch' });
    const stored = await storedEvents({ db }, batch.body.results!.map((r) => r.event_id as string));
    expect(stored).toHaveLength(3);
    expect(stored.every((e) => e.org_id === org.id)).toBe(true);
  });

  it('when the source’s organization is suspended, then its events are rejected organization_inactive', async () => {
    const suspended = await createOrg(db, { status: 'suspended' });
    const source = await createSource('user_service', superadmin, { org_id: suspended.id });
    const res = await send(url, 'user-service', exampleEvent('user.created', suspended.slug), { secret: source.secret, sourceId: source.id });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('organization_inactive');
  });
});

describe('source secrets', () => {
  it('when sources are created, rotated and used, then no secret appears in any log line, and the stored columns hold no plaintext', async () => {
    const source = await createSource();
    const rotated = (await api('POST', `/integrations/sources/${source.id}/rotate`, admin, {})).body as { secret: string };
    await deliver(source.id, rotated.secret);
    await deliver(source.id, 'whsec_d3JvbmctYnV0LXdlbGwtZm9ybWVkLXNlY3JldC0wMTIzNDU=');
    const [row] = await asOwner<{ secret_ciphertext: string; previous_secret_ciphertext: string }>(
      'SELECT secret_ciphertext, previous_secret_ciphertext FROM integration_sources WHERE id = $1',
      [source.id],
    );
    expect(row?.secret_ciphertext).toMatch(/^v1\./);
    for (const secret of [source.secret, rotated.secret]) {
      const key = secret.slice('whsec_'.length);
      for (const text of [logged, row!.secret_ciphertext, row!.previous_secret_ciphertext]) {
        expect(text).not.toContain(key);
        expect(text).not.toContain(Buffer.from(key, 'base64').toString('hex'));
      }
    }
    expect(logged).toContain(source.id); // the log did record the requests
  });
});
