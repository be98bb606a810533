import { verifyAuditChain } from '@saas/audit';
import { AuditLog, CommunicationLog, Database, Organization, Subscription, User, WebhookEvent } from '@saas/db';
import { createOrg, createUser, eventually, unique } from '@saas/testing';
import { Producer, reload, runWorker, scenarioConfig, settled, type RunningWorker } from './harness.spec-helper';

const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 4 });
const config = scenarioConfig();
let producer: Producer;
let running: RunningWorker;
let org: Organization;

beforeAll(async () => {
  running = await runWorker(config);
  producer = new Producer(db, config);
});
afterAll(async () => {
  await running.stop();
  await producer.close();
  await db.close();
});
beforeEach(async () => {
  org = await createOrg(db);
});

const at = (secondsAgo: number) => new Date(Date.now() - secondsAgo * 1000);
const inOrg = <T>(work: Parameters<Database['forOrg']>[1]) => db.forOrg(org.id, work) as Promise<T>;
const userByExternalId = (externalId: string) => inOrg<User | null>((transaction) => User.findOne({ where: { external_id: externalId }, transaction }));
const log = (messageId: string) => inOrg<CommunicationLog | null>((transaction) => CommunicationLog.findOne({ where: { message_id: messageId }, transaction }));
const auditActions = async (targetId: string) =>
  (await inOrg<AuditLog[]>((transaction) => AuditLog.findAll({ where: { target_id: targetId }, order: [['seq', 'ASC']], transaction }))).map((a) => a.action);

/** Lets the directory link its entries to the organization's existing plain users. */
const allowLinks = () => db.asSystem('test fixture', (transaction) => Organization.update({ directory_links_existing_users: true }, { where: { id: org.id }, transaction }));

/** An event that failed for good at its first attempt, dead-lettered (and audited so) with `reason` leading its last_error. */
async function refused(event: WebhookEvent, reason: string) {
  const failed = await settled(db, event);
  expect(failed).toMatchObject({ status: 'failed', attempts: 1, last_error: expect.stringMatching(new RegExp(`^${reason}: `)) });
  expect(await auditActions(event.id)).toEqual(['integration.event.dead_lettered']);
  return failed;
}

/** A replay as webhook-gateway's (integrations/replay.ts) puts a failed event back: queued again, its message published with a fresh retry budget. */
async function replay(event: WebhookEvent) {
  await inOrg((transaction) => WebhookEvent.update({ status: 'queued' }, { where: { id: event.id }, transaction }));
  await producer.publish(event);
}

async function processed(eventType: string, data: Record<string, unknown>, options: Parameters<Producer['ingest']>[3] = {}) {
  const event = await settled(db, await producer.ingest(org, eventType, data, options));
  expect({ status: event.status, error: event.last_error }).toEqual({ status: 'processed', error: null });
  return event;
}

describe('user-service events', () => {
  it('when user.created arrives, then a pending user without a password exists, linked by external id, with an audit entry carrying the request id', async () => {
    const externalId = unique('emp');
    const event = await processed('user.created', { user_id: externalId, email: `${externalId}@Example.test`, first_name: 'Ada', department: 'R&D' }, { requestId: 'req-created-1' });
    const user = (await userByExternalId(externalId))!;
    expect(user).toMatchObject({ org_id: org.id, email: `${externalId}@example.test`, status: 'pending', password_hash: null, role: 'user', first_name: 'Ada', department: 'R&D' });
    const audit = await inOrg<AuditLog | null>((transaction) => AuditLog.findOne({ where: { action: 'integration.user.synced', target_id: user.id }, transaction }));
    expect(audit).toMatchObject({ actor_type: 'system', request_id: 'req-created-1', target_type: 'user' });
    expect(audit!.metadata).toMatchObject({ webhook_event_id: event.id, change: 'created' });
  });

  it('when user.updated arrives, then the profile fields it carries change and the others stay', async () => {
    const externalId = unique('emp');
    await processed('user.created', { user_id: externalId, email: `${externalId}@example.test`, first_name: 'Ada', title: 'Engineer' }, { timestamp: at(10) });
    await processed('user.updated', { user_id: externalId, title: 'Staff Engineer' }, { timestamp: at(5) });
    expect(await userByExternalId(externalId)).toMatchObject({ first_name: 'Ada', title: 'Staff Engineer' });
  });

  it('when user.deleted arrives, then the user is inactive and every earlier token is revoked', async () => {
    const externalId = unique('emp');
    await processed('user.created', { user_id: externalId, email: `${externalId}@example.test` }, { timestamp: at(10) });
    const before = (await userByExternalId(externalId))!;
    await processed('user.deleted', { user_id: externalId }, { timestamp: at(5) });
    const after = (await userByExternalId(externalId))!;
    expect(after.status).toBe('inactive');
    expect(after.token_version).toBe(before.token_version + 1);
    expect(await auditActions(after.id)).toEqual(['integration.user.synced', 'integration.user.synced']);
  });

  it('when user.created carries an email owned by another organization, then the event fails at once without retries', async () => {
    const other = await createOrg(db);
    const taken = await createUser(db, { orgId: other.id });
    await refused(await producer.ingest(org, 'user.created', { user_id: unique('emp'), email: taken.email.toUpperCase() }), 'email_owned_by_unmanaged_account');
  });

  it('when user.created carries the email of a plain user the organization created itself while it does not let the directory link existing users, then the event is dead-lettered; once it does, a replay links that user, audited', async () => {
    const own = await createUser(db, { orgId: org.id, status: 'active' });
    const externalId = unique('emp');
    const event = await producer.ingest(org, 'user.created', { user_id: externalId, email: own.email, title: 'Linked' });
    await refused(event, 'email_owned_by_unmanaged_account');
    expect(await userByExternalId(externalId)).toBeNull();

    await allowLinks();
    await replay(event);
    expect(await settled(db, event)).toMatchObject({ status: 'processed', attempts: 2 });
    expect(await userByExternalId(externalId)).toMatchObject({ id: own.id, status: 'active', title: 'Linked' });
    const audits = await inOrg<AuditLog[]>((transaction) => AuditLog.findAll({ where: { target_id: own.id }, order: [['seq', 'ASC']], transaction }));
    expect(audits.map((a) => [a.action, a.metadata])).toEqual([
      ['integration.user.linked', expect.objectContaining({ external_id: externalId, email: own.email, webhook_event_id: event.id })],
      ['integration.user.synced', expect.objectContaining({ change: 'linked', external_id: externalId })],
    ]);
  });

  it("when user.created carries an admin's email, then the event is dead-lettered even though the organization lets the directory link existing users, and the admin is unchanged", async () => {
    await allowLinks();
    const admin = await createUser(db, { orgId: org.id, role: 'admin' });
    await refused(await producer.ingest(org, 'user.created', { user_id: unique('emp'), email: admin.email }), 'email_owned_by_unmanaged_account');
    expect(await inOrg<User | null>((transaction) => User.findByPk(admin.id, { transaction }))).toMatchObject({ external_id: null, email: admin.email });
  });

  it('when user.deleted names the last active admin, then the event is dead-lettered and the admin stays active', async () => {
    const admin = await createUser(db, { orgId: org.id, role: 'admin', externalId: unique('emp') });
    await refused(await producer.ingest(org, 'user.deleted', { user_id: admin.external_id }), 'last_active_admin');
    expect(await userByExternalId(admin.external_id!)).toMatchObject({ status: 'active', token_version: admin.token_version });
  });
});

describe('payment-service events', () => {
  async function customer() {
    const externalId = unique('cus');
    await processed('user.created', { user_id: externalId, email: `${externalId}@example.test` }, { timestamp: at(60) });
    return (await userByExternalId(externalId))!;
  }
  const subscription = (subscriptionId: string) => inOrg<Subscription | null>((transaction) => Subscription.findOne({ where: { subscription_id: subscriptionId }, transaction }));

  it('when subscription.created, updated and canceled arrive, then the subscription follows them, linked to the customer user', async () => {
    const user = await customer();
    const id = unique('sub');
    await processed('subscription.created', { subscription_id: id, customer_id: user.external_id, plan: 'basic', status: 'trialing', billing_cycle: 'monthly', amount: 29.5, currency: 'EUR', trial_end: '2030-01-01T00:00:00Z' }, { timestamp: at(30) });
    expect(await subscription(id)).toMatchObject({ user_id: user.id, plan: 'basic', status: 'trialing', billing_cycle: 'monthly', amount: '29.50', currency: 'EUR' });
    await processed('subscription.updated', { subscription_id: id, customer_id: user.external_id, plan: 'enterprise', status: 'active' }, { timestamp: at(20) });
    expect(await subscription(id)).toMatchObject({ plan: 'enterprise', status: 'active', billing_cycle: 'monthly' });
    await processed('subscription.canceled', { subscription_id: id, customer_id: user.external_id, plan: 'enterprise' }, { timestamp: at(10) });
    const canceled = (await subscription(id))!;
    expect(canceled.status).toBe('canceled');
    expect(await auditActions(canceled.id)).toEqual(Array(3).fill('integration.subscription.synced'));
  });

  it('when payment.failed arrives, then the subscription is past_due with the failure kept', async () => {
    const user = await customer();
    const id = unique('sub');
    await processed('subscription.created', { subscription_id: id, customer_id: user.external_id, plan: 'professional' }, { timestamp: at(30) });
    await processed('payment.failed', { payment_id: 'pay_1', subscription_id: id, amount: 99, currency: 'USD', failure_reason: 'card_declined', failure_code: 'do_not_honor' }, { timestamp: at(10) });
    const sub = (await subscription(id))!;
    expect(sub.status).toBe('past_due');
    expect(sub.last_payment_failure).toMatchObject({ payment_id: 'pay_1', failure_reason: 'card_declined', failure_code: 'do_not_honor', amount: 99 });
  });
});

describe('communication-service events', () => {
  it('when message.delivered arrives for a user of the organization, then a delivered log links to that user', async () => {
    const user = await createUser(db, { orgId: org.id });
    const id = unique('msg');
    await processed('message.delivered', { message_id: id, recipient: user.email.toUpperCase(), template: 'welcome', delivery_time_ms: 120, esp_message_id: 'esp-1' });
    expect(await log(id)).toMatchObject({ user_id: user.id, status: 'delivered', template: 'welcome', delivery_time_ms: 120, esp_message_id: 'esp-1' });
  });

  it('when message.failed and message.bounced arrive, then the logs record them, linked to no one for an unknown recipient', async () => {
    const failed = unique('msg');
    const bounced = unique('msg');
    await processed('message.failed', { message_id: failed, recipient: 'nobody@example.test', template: 'reset', failure_reason: 'smtp timeout' });
    await processed('message.bounced', { message_id: bounced, recipient: 'gone@example.test', template: 'reset', bounce_reason: 'mailbox full', bounce_type: 'soft' });
    expect(await log(failed)).toMatchObject({ status: 'failed', failure_reason: 'smtp timeout', user_id: null });
    expect(await log(bounced)).toMatchObject({ status: 'bounced', bounce_reason: 'mailbox full', bounce_type: 'soft' });
  });
});

describe('ordering and redelivery', () => {
  it('when user.updated arrives before user.created, then the user converges to the newest state and the older event is skipped', async () => {
    const externalId = unique('emp');
    const email = `${externalId}@example.test`;
    await processed('user.updated', { user_id: externalId, email, title: 'Newest' }, { timestamp: at(5) });
    const created = await settled(db, await producer.ingest(org, 'user.created', { user_id: externalId, email, title: 'Oldest' }, { timestamp: at(10) }));
    expect(created.status).toBe('skipped');
    expect(await userByExternalId(externalId)).toMatchObject({ title: 'Newest', status: 'pending' });
  });

  it('when an older update arrives after a newer one, then it changes nothing', async () => {
    const id = unique('msg');
    await processed('message.bounced', { message_id: id, recipient: 'a@example.test', template: 't' }, { timestamp: at(5) });
    const older = await settled(db, await producer.ingest(org, 'message.delivered', { message_id: id, recipient: 'a@example.test', template: 't' }, { timestamp: at(10) }));
    expect(older.status).toBe('skipped');
    expect((await log(id))!.status).toBe('bounced');
  });

  it('when the same message is delivered twice, then the effect is applied once', async () => {
    const externalId = unique('emp');
    const event = await producer.ingest(org, 'user.created', { user_id: externalId, email: `${externalId}@example.test` }, { publish: false });
    await Promise.all([producer.publish(event), producer.publish(event)]);
    const done = await settled(db, event);
    // the second copy is acknowledged and dropped once the first has committed
    await eventually(async () => (await producer.depth(config.RABBITMQ_NAME_PREFIX + 'integration.user_service')) === 0);
    await new Promise((r) => setTimeout(r, 300));
    expect((await reload(db, done)).attempts).toBe(1);
    const user = (await userByExternalId(externalId))!;
    expect(await auditActions(user.id)).toEqual(['integration.user.synced']);
  });

  it('when many events of one organization arrive together, one of them invalid, then every valid one is processed once, the invalid one fails and the audit chain verifies', async () => {
    const messages = Array.from({ length: 12 }, () => unique('msg'));
    const events = await Promise.all(
      messages.map((id, i) =>
        producer.ingest(org, i % 2 ? 'message.delivered' : 'user.created', i % 2 ? { message_id: id, recipient: `${id}@example.test`, template: 'welcome' } : { user_id: id, email: `${id}@example.test` }, { publish: false }),
      ),
    );
    const invalid = await producer.ingest(org, 'message.delivered', { recipient: 'nobody@example.test', template: 'welcome' }, { publish: false });
    // published together: the deliveries that arrive while the organization's first transaction runs form one group
    await Promise.all([...events, invalid].map((event) => producer.publish(event)));
    const done = await Promise.all(events.map((event) => settled(db, event)));
    expect(done.map((e) => [e.status, e.attempts])).toEqual(events.map(() => ['processed', 1]));
    expect(await settled(db, invalid)).toMatchObject({ status: 'failed', attempts: 1 });
    const audited = await inOrg<AuditLog[]>((transaction) => AuditLog.findAll({ where: { org_id: org.id }, transaction }));
    expect(audited.map((a) => a.action).sort()).toEqual(
      [...events.map((e) => (e.event_type === 'user.created' ? 'integration.user.synced' : 'integration.communication.synced')), 'integration.event.dead_lettered'].sort(),
    );
    expect(await inOrg((tx) => verifyAuditChain(tx, org.id))).toEqual({ valid: true, entries_checked: 13 });
  });
});
