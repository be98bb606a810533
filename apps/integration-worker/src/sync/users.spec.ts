import { Database, User } from '@saas/db';
import { createOrg, createUser, unique } from '@saas/testing';
import { PermanentSyncError } from '../errors';
import { GroupCommitter } from '../group-commit';
import type { SyncItem, SyncResult } from './types';
import { syncUsers } from './users';

const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 4 });
afterAll(() => db.close());

const at = (secondsAgo: number) => new Date(Date.now() - secondsAgo * 1000);

describe('user events synced as a group', () => {
  it('when a group mixes new users, users matched by external id and by email, a stale event and an invalid one, then the group falls back and each valid event applies once', async () => {
    const [org, other] = [await createOrg(db), await createOrg(db)];
    const own = await createUser(db, { orgId: org.id });
    const takenElsewhere = await createUser(db, { orgId: other.id });
    const [fresh, synced, linked, invalid] = [unique('emp'), unique('emp'), unique('emp'), unique('emp')];
    const item = (eventType: string, secondsAgo: number, data: Record<string, unknown>): SyncItem => ({
      event: { org_id: org.id, event_type: eventType, event_timestamp: at(secondsAgo) },
      data,
    });
    const committer = new GroupCommitter<SyncItem, SyncResult>(db, 100, syncUsers);
    // The first event forms a group alone; the ones submitted meanwhile form the next group together.
    const first = committer.submit(org.id, item('user.created', 100, { user_id: synced, email: `${synced}@example.test` }));
    const group = [
      item('user.created', 30, { user_id: fresh, email: `${fresh}@example.test` }),
      item('user.updated', 50, { user_id: synced, title: 'Manager' }),
      item('user.created', 40, { user_id: linked, email: own.email, title: 'Linked' }),
      item('user.updated', 60, { user_id: synced, title: 'older than the update before it' }),
      item('user.created', 20, { user_id: invalid, email: takenElsewhere.email }),
      item('user.deleted', 10, { user_id: linked }),
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
});
