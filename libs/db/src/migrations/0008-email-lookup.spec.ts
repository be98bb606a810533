import { QueryTypes } from 'sequelize';
import { scratchDatabase } from './scratch-database.spec-helper';

const MIGRATION = '0008-email-lookup';
const { owner, umzug, indexColumns, servicesPlan } = scratchDatabase('m0008');

/** The plan of a login's lookup: `condition` on users as the services role in system scope. */
const loginPlan = (condition: string) => servicesPlan('system', `SELECT id FROM users WHERE ${condition}`);

const insertSuperadmin = (email: string) => owner().query("INSERT INTO users (org_id, email, role, status) VALUES (NULL, $1, 'superadmin', 'active')", { bind: [email] });

describe(`migration ${MIGRATION}`, () => {
  it('when a login looks an e-mail up under row-level security, then the unique index serves it', async () => {
    expect(await loginPlan("email_lower = 'someone@example.test'")).toMatch(/Index (Only )?Scan using users_email_key/);
  });

  it('when two e-mails differ only in case, then the second is refused by users_email_key, as before', async () => {
    await insertSuperadmin('Case.Twin@Example.TEST');
    await expect(insertSuperadmin('case.twin@example.test')).rejects.toMatchObject({ parent: { code: '23505', constraint: 'users_email_key' } });
    const [row] = await owner().query<{ email_lower: string }>("SELECT email_lower FROM users WHERE email = 'Case.Twin@Example.TEST'", { type: QueryTypes.SELECT });
    expect(row!.email_lower).toBe('case.twin@example.test');
  });

  it('when it is reverted, then the column is gone and the index is on lower(email) again, which no login could use; when applied again, then it is as migrated', async () => {
    expect(await indexColumns('users_email_key')).toEqual(['(email_lower)']);
    await umzug().down({ to: MIGRATION });
    expect(await indexColumns('users_email_key')).toEqual(['(lower(email))']);
    // why: `lower` is not leakproof, so under the policy the old index on lower(email) could serve no login
    expect(await loginPlan("lower(email) = 'someone@example.test'")).toMatch(/Seq Scan on users/);
    expect(await owner().query("SELECT 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'email_lower'", { type: QueryTypes.SELECT })).toEqual([]);
    await umzug().up();
    expect(await indexColumns('users_email_key')).toEqual(['(email_lower)']);
  });
});
