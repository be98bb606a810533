import { QueryTypes } from 'sequelize';
import { Database, Subscription, type Transaction } from '@saas/db';
import { createOrg, unique } from '@saas/testing';
import { GroupCommitter } from './group-commit';

type Work = (tx: Transaction) => Promise<unknown>;
/** A committer whose units are functions, applied in order in the group's transaction. */
const workCommitter = () =>
  new GroupCommitter<Work, unknown>(db, 100, async (tx, works) => {
    const results: unknown[] = [];
    for (const work of works) results.push(await work(tx));
    return results;
  });

const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 4 });
afterAll(() => db.close());

const insert = (tx: Transaction, orgId: string, id: string) =>
  Subscription.create({ org_id: orgId, subscription_id: id, plan: 'basic', status: 'active' }, { transaction: tx });
const stored = async (orgId: string) => (await db.forOrg(orgId, (transaction) => Subscription.findAll({ transaction }))).map((s) => s.subscription_id);
const txid = async (tx: Transaction) =>
  ((await db.sequelize.query<{ id: string }>('SELECT txid_current()::text AS id', { type: QueryTypes.SELECT, transaction: tx })) as { id: string }[])[0]!.id;

describe('group commit per organization', () => {
  it('when units arrive while the organization’s transaction runs, then they commit together in its next transaction', async () => {
    const org = await createOrg(db);
    const committer = workCommitter();
    let release!: () => void;
    const latch = new Promise<void>((resolve) => (release = resolve));
    const first = committer.submit(org.id, async (tx) => {
      await latch;
      return txid(tx);
    });
    const ids = [unique('sub'), unique('sub'), unique('sub')];
    const grouped = ids.map((id) =>
      committer.submit(org.id, async (tx) => {
        await insert(tx, org.id, id);
        return txid(tx);
      }),
    );
    release();
    const [firstTx, ...groupTxs] = await Promise.all([first, ...grouped]);
    expect(new Set(groupTxs).size).toBe(1);
    expect(groupTxs[0]).not.toBe(firstTx);
    expect((await stored(org.id)).sort()).toEqual([...ids].sort());
  });

  it('when one unit of a group fails, then only that unit is rejected and the others are stored', async () => {
    const org = await createOrg(db);
    const committer = workCommitter();
    let release!: () => void;
    const latch = new Promise<void>((resolve) => (release = resolve));
    const first = committer.submit(org.id, () => latch);
    const ids = [unique('sub'), unique('sub'), unique('sub')];
    const grouped = ids.map((id, i) =>
      committer.submit(org.id, async (tx) => {
        await insert(tx, org.id, id);
        if (i === 1) throw new Error('this unit fails');
        return id;
      }),
    );
    release();
    await first;
    const results = await Promise.allSettled(grouped);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('this unit fails');
    expect((await stored(org.id)).sort()).toEqual([ids[0], ids[2]].sort());
  });

  it('when the database connection dies under a group, then its units run again one by one: the sound one is stored once, the failing one is rejected', async () => {
    const org = await createOrg(db);
    const committer = workCommitter();
    let release!: () => void;
    const latch = new Promise<void>((resolve) => (release = resolve));
    const first = committer.submit(org.id, () => latch);
    const ids = [unique('sub'), unique('sub')];
    const group = ids.map((id, i) =>
      committer.submit(org.id, async (tx) => {
        await insert(tx, org.id, id);
        // the database connection dies under the group (as in a failover): nothing of it can commit
        if (i === 1) await db.sequelize.query('SELECT pg_terminate_backend(pg_backend_pid())', { transaction: tx }).catch(() => undefined);
      }),
    );
    release();
    await first;
    const results = await Promise.allSettled(group);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect(await stored(org.id)).toEqual([ids[0]]);
  });
});
