import { Database, Organization, User } from '@saas/db';
import { createOrg, createUser, unique } from '@saas/testing';
import { PermanentSyncError } from '../errors';
import { GroupCommitter } from '../group-commit';
import type { SyncItem, SyncResult } from './types';
import { syncUsers } from './users';

const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 4 });
afterAll(() => db.close());

const at = (secondsAgo: number) => new Date(Date.now() - secondsAgo * 1000);
const item = (org: Organization, eventType: string, secondsAgo: number, data: Record<string, unknown>): SyncItem => ({
  event: { org_id: org.id, event_type: eventType, event_timestamp: at(secondsAgo) },
  data,
});

describe('user events synced as a group', () => {
  it('when a group mixes new users, users matched by external id and by email, a stale event and an invalid one, then the group falls back and each valid event applies once', async () => {
    const [org, other] = [await createOrg(db), await createOrg(db)];
    await db.asSystem('test fixture', (transaction) => Organization.update({ directory_links_existing_users: true }, { where: { id: org.id }, transaction }));
    const own = await createUser(db, { orgId: org.id });
    const takenElsewhere = await createUser(db, { orgId: other.id });
    const [fresh, synced, linked, invalid] = [unique('emp'), unique('emp'), unique('emp'), unique('emp')];
    const committer = new GroupCommitter<SyncItem, SyncResult>(db, 100, syncUsers);
    // The first event forms a group alone; the ones submitted meanwhile form the next group together.
    const first = committer.submit(org.id, item(org, 'user.created', 100, { user_id: synced, email: `${synced}@example.test` }));
    const group = [
      item(org, 'user.created', 30, { user_id: fresh, email: `${fresh}@example.test` }),
      item(org, 'user.updated', 50, { user_id: synced, title: 'Manager' }),
      item(org, 'user.created', 40, { user_id: linked, email: own.email, title: 'Linked' }),
      item(org, 'user.updated', 60, { user_id: synced, title: 'older than the update before it' }),
      item(org, 'user.created', 20, { user_id: invalid, email: takenElsewhere.email }),
      item(org, 'user.deleted', 10, { user_id: linked }),
    ].map((unit) => committer.submit(org.id, unit));

    expect(await first).toMatchObject({ outcome: 'processed' });
    const settled = await Promise.allSettled(group);
    const outcomes = settled.map((s) => (s.status === 'fulfilled' ? s.value.outcome : s.reason));
    expect(outcomes).toEqual(['processed', 'processed', 'processed', 'skipped', expect.any(PermanentSyncError), 'processed']);
    expect(settled[5]).toMatchObject({ value: { revokedUserIds: [own.id] } });

    const users = await db.forOrg(org.id, (transaction) => User.findAll({ transaction }));
    const byExternalId = new Map(users.map((u) => [u.external_id, u]));
    expect(users).toHaveLength(3);
    expect(byExternalId.get(fresh)).toMatchObject({ status: 'pending' });
    expect(byExternalId.get(synced)).toMatchObject({ title: 'Manager' });
    expect(byExternalId.get(linked)).toMatchObject({ id: own.id, title: 'Linked', status: 'inactive', token_version: own.token_version + 1 });
    expect(byExternalId.has(invalid)).toBe(false);
  });

  it('when a group deletes the two last active admins of an organization, then the group falls back, the first deletion applies and the second fails with last_active_admin', async () => {
    const org = await createOrg(db);
    const admins = [await createUser(db, { orgId: org.id, role: 'admin', externalId: unique('emp') }), await createUser(db, { orgId: org.id, role: 'admin', externalId: unique('emp') })];
    const committer = new GroupCommitter<SyncItem, SyncResult>(db, 100, syncUsers);
    const first = committer.submit(org.id, item(org, 'user.created', 100, { user_id: unique('emp'), email: `${unique('emp')}@example.test` }));
    const group = admins.map((admin, i) => committer.submit(org.id, item(org, 'user.deleted', 20 - i, { user_id: admin.external_id })));

    expect(await first).toMatchObject({ outcome: 'processed' });
    const settled = await Promise.allSettled(group);
    expect(settled[0]).toMatchObject({ status: 'fulfilled', value: { outcome: 'processed', revokedUserIds: [admins[0]!.id] } });
    expect(settled[1]).toMatchObject({ status: 'rejected', reason: expect.any(PermanentSyncError) });
    expect((settled[1] as PromiseRejectedResult).reason.message).toMatch(/^last_active_admin: /);
    const statuses = await db.forOrg(org.id, (transaction) => User.findAll({ where: { role: 'admin' }, order: [['id', 'ASC']], transaction }));
    expect(new Map(statuses.map((u) => [u.id, u.status]))).toEqual(new Map([[admins[0]!.id, 'inactive'], [admins[1]!.id, 'active']]));
  });
});
