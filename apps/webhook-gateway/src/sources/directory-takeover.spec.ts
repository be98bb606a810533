// The takeover a directory credential allowed, attempted end to end: signed webhooks on both kinds of endpoint,
// webhook-gateway and a real integration worker over RabbitMQ, the outcome read back from PostgreSQL.
import { AuditLog, Organization, User, WebhookEvent, type Organization as Org } from '@saas/db';
import { createOrg, createUser, eventually, spawnTs, unique, waitForExit } from '@saas/testing';
import { bearer, call, startIntegrationsGateway } from '../integrations/integrations.spec-helper';
import { exampleEvent, secretOf, send, type GatewayUnderTest } from '../webhooks/webhooks.spec-helper';

let gw: GatewayUnderTest;
let worker: ReturnType<typeof spawnTs>;
let org: Org;
let admin: User;
let source: { id: string; secret: string };

beforeAll(async () => {
  gw = await startIntegrationsGateway();
  worker = spawnTs('apps/integration-worker/src/main.ts', { RABBITMQ_NAME_PREFIX: gw.config.RABBITMQ_NAME_PREFIX, INTEGRATION_WORKER_PORT: 0 });
  const names = gw.runtime.broker.names;
  await eventually(async () => (await gw.runtime.broker.channel.checkQueue(names.serviceQueue('user_service'))).consumerCount === 1, 20000);
}, 30000);
afterAll(async () => {
  worker.kill('SIGTERM');
  await waitForExit(worker);
  await gw.close();
});
beforeEach(async () => {
  org = await createOrg(gw.runtime.db);
  // the organization's only active admin, managed by the directory (so a user.deleted of it names a managed user)
  admin = await createUser(gw.runtime.db, { orgId: org.id, role: 'admin', externalId: unique('ext-admin') });
  source = (await call(gw.app.url, '/integrations/sources', { method: 'POST', headers: bearer(admin), body: { service: 'user_service' } })).body;
});

type Via = 'source' | 'platform';
const VIAS: Via[] = ['source', 'platform'];

/** Delivers one user event through `via` and waits for the worker's outcome. */
async function deliver(via: Via, eventType: string, data: Record<string, unknown>): Promise<WebhookEvent> {
  const event = exampleEvent(eventType, org.slug, { data });
  const options = via === 'source' ? { secret: source.secret, sourceId: source.id } : { secret: secretOf(gw.config, 'user_service') };
  const res = await send(gw.app.url, 'user-service', event, options);
  expect(res.status).toBe(202);
  return eventually(async () => {
    const stored = await gw.runtime.db.forOrg(org.id, (transaction) => WebhookEvent.findOne({ where: { event_id: event['event_id'] as string }, transaction }));
    return stored && ['processed', 'failed', 'skipped'].includes(stored.status) ? stored : null;
  }, 20000);
}

const reload = (user: User) => gw.runtime.db.forOrg(org.id, (transaction) => User.findByPk(user.id, { transaction })) as Promise<User>;

describe.each(VIAS)('a directory credential, at the %s endpoint', (via) => {
  it('when user.created carries the email of the organization’s admin, then the event fails email_owned_by_unmanaged_account and the admin is not linked', async () => {
    const plainAdmin = await createUser(gw.runtime.db, { orgId: org.id, role: 'admin' });
    const event = await deliver(via, 'user.created', { user_id: unique('attacker'), email: plainAdmin.email });
    expect(event.status).toBe('failed');
    expect(event.last_error).toMatch(/^email_owned_by_unmanaged_account/);
    expect(await reload(plainAdmin)).toMatchObject({ external_id: null, status: 'active', email: plainAdmin.email });
  });

  it('when user.updated moves a managed user onto an unmanaged account’s email, then it fails and both accounts are unchanged', async () => {
    const managed = await createUser(gw.runtime.db, { orgId: org.id, externalId: unique('ext') });
    const unmanaged = await createUser(gw.runtime.db, { orgId: org.id });
    const event = await deliver(via, 'user.updated', { user_id: managed.external_id, email: unmanaged.email });
    expect(event.last_error).toMatch(/^email_owned_by_unmanaged_account/);
    expect((await reload(managed)).email).toBe(managed.email);
    expect((await reload(unmanaged)).email).toBe(unmanaged.email);
  });

  it('when user.deleted names the last active admin, then the event fails last_active_admin and the admin stays active', async () => {
    const event = await deliver(via, 'user.deleted', { user_id: admin.external_id });
    expect(event.status).toBe('failed');
    expect(event.last_error).toMatch(/^last_active_admin/);
    expect((await reload(admin)).status).toBe('active');
  });

  it('when the organization allows links and user.created carries a plain user’s email, then that user is linked, audited integration.user.linked', async () => {
    const plain = await createUser(gw.runtime.db, { orgId: org.id });
    await gw.runtime.db.forOrg(org.id, (transaction) => Organization.update({ directory_links_existing_users: true }, { where: { id: org.id }, transaction }));
    const externalId = unique('hr');
    const event = await deliver(via, 'user.created', { user_id: externalId, email: plain.email });
    expect(event.status).toBe('processed');
    expect((await reload(plain)).external_id).toBe(externalId);
    const linked = await gw.runtime.db.forOrg(org.id, (transaction) => AuditLog.findAll({ where: { action: 'integration.user.linked', target_id: plain.id }, transaction }));
    expect(linked).toHaveLength(1);
  });
});

describe('an event at a source endpoint naming another organization', () => {
  it('when a signed user.deleted names another organization, then it is rejected organization_mismatch and never reaches that organization', async () => {
    const victim = await createOrg(gw.runtime.db);
    const victimAdmin = await createUser(gw.runtime.db, { orgId: victim.id, role: 'admin', externalId: unique('ext') });
    const res = await send(gw.app.url, 'user-service', exampleEvent('user.deleted', victim.slug, { data: { user_id: victimAdmin.external_id } }), {
      secret: source.secret,
      sourceId: source.id,
    });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('organization_mismatch');
    expect((await gw.runtime.db.forOrg(victim.id, (transaction) => User.findByPk(victimAdmin.id, { transaction })))?.status).toBe('active');
  });
});
