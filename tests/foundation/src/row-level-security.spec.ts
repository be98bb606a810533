import { QueryTypes } from 'sequelize';
import { AuditLog, Database, runMigrations, User } from '@saas/db';
import { createOrg, createUser } from '@saas/testing';

const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 4 });
afterAll(() => db.close());

async function seedTwoOrgs() {
  const [a, b] = [await createOrg(db), await createOrg(db)];
  const [userA, userB] = [await createUser(db, { orgId: a.id }), await createUser(db, { orgId: b.id })];
  return { a, b, userA, userB };
}

describe('row-level security as the services role', () => {
  it('when a query runs without an org context, then it sees no tenant rows', async () => {
    await seedTwoOrgs();
    for (const table of ['organizations', 'users', 'webhook_events', 'subscriptions', 'communication_logs', 'audit_logs', 'invites']) {
      const rows = await db.sequelize.query(`SELECT count(*)::int AS n FROM ${table}`, { type: QueryTypes.SELECT, plain: true });
      expect({ table, n: (rows as unknown as { n: number }).n }).toEqual({ table, n: 0 });
    }
  });

  it("when a transaction carries org A's context, then it never sees org B's rows", async () => {
    const { a, userA, userB } = await seedTwoOrgs();
    const ids = await db.forOrg(a.id, async (transaction) => (await User.findAll({ transaction })).map((u) => u.id));
    expect(ids).toContain(userA.id);
    expect(ids).not.toContain(userB.id);
    const direct = await db.forOrg(a.id, (transaction) => User.findByPk(userB.id, { transaction }));
    expect(direct).toBeNull();
  });

  it("when a transaction with org A's context inserts a row for org B, then the database refuses it", async () => {
    const { a, b } = await seedTwoOrgs();
    await expect(
      db.forOrg(a.id, (transaction) =>
        db.sequelize.query(
          "INSERT INTO subscriptions (org_id, subscription_id, plan, status) VALUES ($1, 'sub_x', 'basic', 'active')",
          { bind: [b.id], transaction },
        ),
      ),
    ).rejects.toThrow(/row-level security/);
  });

  it("when a transaction with org A's context updates org B's rows, then nothing changes", async () => {
    const { a, userB } = await seedTwoOrgs();
    await db.forOrg(a.id, (transaction) => User.update({ title: 'hijacked' }, { where: { id: userB.id }, transaction }));
    const after = await db.asSystem('test assertion', (transaction) => User.findByPk(userB.id, { transaction }));
    expect(after?.title).toBeNull();
  });

  it('when the services role updates or deletes an audit entry, then the database refuses', async () => {
    const { a } = await seedTwoOrgs();
    await db.forOrg(a.id, (transaction) =>
      AuditLog.create(
        { org_id: a.id, actor_type: 'system', action: 'test.written', prev_hash: '0', hash: '1', created_at: new Date() },
        { transaction },
      ),
    );
    await expect(db.forOrg(a.id, (transaction) => db.sequelize.query('UPDATE audit_logs SET action = $1', { bind: ['x'], transaction }))).rejects.toThrow(
      /permission denied/,
    );
    await expect(db.forOrg(a.id, (transaction) => db.sequelize.query('DELETE FROM audit_logs', { transaction }))).rejects.toThrow(/permission denied/);
  });

  it('when the services role inspects itself, then it owns nothing and cannot bypass row-level security', async () => {
    const role = (await db.sequelize.query(
      `SELECT rolsuper, rolbypassrls, (SELECT count(*)::int FROM pg_tables WHERE tableowner = current_user) AS owned
       FROM pg_roles WHERE rolname = current_user`,
      { type: QueryTypes.SELECT, plain: true },
    )) as unknown as { rolsuper: boolean; rolbypassrls: boolean; owned: number };
    expect(role).toEqual({ rolsuper: false, rolbypassrls: false, owned: 0 });
  });
});

describe('migrations', () => {
  it('when migrations run again on a migrated database, then nothing is applied and the role keeps working', async () => {
    const applied = await runMigrations({ adminUrl: process.env['DATABASE_ADMIN_URL']!, serviceUrl: process.env['DATABASE_URL']! });
    expect(applied).toEqual([]);
    await expect(db.ping()).resolves.toBeUndefined();
  });
});
