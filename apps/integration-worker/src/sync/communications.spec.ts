import { CommunicationLog, Database } from '@saas/db';
import { createOrg, createUser, unique } from '@saas/testing';
import { syncCommunications } from './communications';

const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 2 });
afterAll(() => db.close());

const at = (secondsAgo: number) => new Date(Date.now() - secondsAgo * 1000);

describe('communication events synced as a batch', () => {
  it('when one batch carries several events of one message and one of a stored message, then each sees the earlier ones, the newest state is stored and the older event is skipped', async () => {
    const org = await createOrg(db);
    const user = await createUser(db, { orgId: org.id });
    const [fresh, known] = [unique('msg'), unique('msg')];
    const stored = await db.forOrg(org.id, (transaction) =>
      CommunicationLog.create(
        { org_id: org.id, message_id: known, recipient: 'someone@example.test', template: 'reset', status: 'delivered', last_event_at: at(60) },
        { transaction },
      ),
    );
    const item = (eventType: string, secondsAgo: number, data: Record<string, unknown>) => ({
      event: { org_id: org.id, event_type: eventType, event_timestamp: at(secondsAgo) },
      data,
    });

    const results = await db.forOrg(org.id, (tx) =>
      syncCommunications(tx, [
        item('message.delivered', 30, { message_id: fresh, recipient: user.email.toUpperCase(), template: 'welcome', delivery_time_ms: 80 }),
        // carries neither recipient nor template: both come from the event before it in the same batch
        item('message.bounced', 10, { message_id: fresh, bounce_reason: 'mailbox full', bounce_type: 'soft' }),
        item('message.failed', 20, { message_id: fresh, failure_reason: 'older than the bounce' }),
        item('message.bounced', 5, { message_id: known, bounce_reason: 'no such user' }),
      ]),
    );

    expect(results.map((r) => r.outcome)).toEqual(['processed', 'processed', 'skipped', 'processed']);
    const logs = await db.forOrg(org.id, (transaction) => CommunicationLog.findAll({ where: { org_id: org.id }, transaction }));
    const byMessage = new Map(logs.map((l) => [l.message_id, l]));
    expect(byMessage.get(fresh)).toMatchObject({ status: 'bounced', template: 'welcome', user_id: user.id, delivery_time_ms: 80, bounce_type: 'soft', failure_reason: null });
    expect(byMessage.get(known)).toMatchObject({ id: stored.id, status: 'bounced', recipient: 'someone@example.test', bounce_reason: 'no such user', user_id: null });
    const targets = results.flatMap((r) => (r.outcome === 'processed' ? r.audits.map((a) => a.targetId) : []));
    expect(targets).toEqual([byMessage.get(fresh)!.id, byMessage.get(fresh)!.id, stored.id]);
  });
});
