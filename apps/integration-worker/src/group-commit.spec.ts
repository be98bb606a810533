import { QueryTypes } from 'sequelize';
import { Database, Subscription, type Transaction } from '@saas/db';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { createOrg, unique } from '@saas/testing';
import { GroupCommitter } from './group-commit';

const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 4 });
afterAll(() => db.close());

const txid = async (tx: Transaction) =>
  ((await db.sequelize.query<{ id: string }>('SELECT txid_current()::text AS id', { type: QueryTypes.SELECT, transaction: tx })) as { id: string }[])[0]!.id;

describe('group commit per organization', () => {
  it('when units arrive while the organization’s transaction runs, then they commit together in the next one and a failing unit rolls back only itself', async () => {
    const org = await createOrg(db);
    const committer = new GroupCommitter(db, 100);
    let release!: () => void;
    const latch = new Promise<void>((resolve) => (release = resolve));
    const insert = (tx: Transaction, id: string) => Subscription.create({ org_id: org.id, subscription_id: id, plan: 'basic', status: 'active' }, { transaction: tx });

    const first = committer.submit(org.id, async (tx) => {
      await latch;
      return txid(tx);
    });
    const ids = [unique('sub'), unique('sub'), unique('sub')];
    const grouped = ids.map((id, i) =>
      committer.submit(org.id, async (tx) => {
        await insert(tx, id);
        if (i === 1) throw new Error('this unit fails');
        return txid(tx);
      }),
    );
    release();
    const [firstTx, okA, failed, okB] = await Promise.allSettled([first, ...grouped]);
    expect(failed).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ message: 'this unit fails' }) });
    expect(okA).toMatchObject({ status: 'fulfilled' });
    expect((okA as PromiseFulfilledResult<string>).value).toBe((okB as PromiseFulfilledResult<string>).value);
    expect((okA as PromiseFulfilledResult<string>).value).not.toBe((firstTx as PromiseFulfilledResult<string>).value);
    const stored = await db.forOrg(org.id, (transaction) => Subscription.findAll({ transaction }));
    expect(stored.map((s) => s.subscription_id).sort()).toEqual([ids[0], ids[2]].sort());
  });

  it('when the group’s transaction cannot commit, then every unit of the group is rejected and none of them is stored', async () => {
    const org = await createOrg(db);
    const committer = new GroupCommitter(db, 100);
    let release!: () => void;
    const latch = new Promise<void>((resolve) => (release = resolve));
    const first = committer.submit(org.id, () => latch);
    const ids = [unique('sub'), unique('sub')];
    const group = ids.map((id, i) =>
      committer.submit(org.id, async (tx) => {
        await Subscription.create({ org_id: org.id, subscription_id: id, plan: 'basic', status: 'active' }, { transaction: tx });
        // the database connection dies under the group (as in a failover): nothing of it can commit
        if (i === 1) await db.sequelize.query('SELECT pg_terminate_backend(pg_backend_pid())', { transaction: tx }).catch(() => undefined);
      }),
    );
    release();
    await first;
    const results = await Promise.allSettled(group);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await db.forOrg(org.id, (transaction) => Subscription.count({ transaction }))).toBe(0);
  });
});
