import { QueryTypes } from 'sequelize';
import { scratchDatabase } from './scratch-database.spec-helper';

const MIGRATION = '0008-email-lookup';
const { owner, services, umzug } = scratchDatabase('m0008');

/** The plan of `condition` on users as the services role in system scope (a login), sequential scans priced out. */
async function loginPlan(condition: string): Promise<string> {
  return services().transaction(async (transaction) => {
    await services().query("SELECT set_config('app.scope', 'system', true), set_config('app.reason', 'm0008 spec', true)", { transaction });
    await services().query('SET LOCAL enable_seqscan = off', { transaction });
    const rows = await services().query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT id FROM users WHERE ${condition}`, { type: QueryTypes.SELECT, transaction });
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  });
}

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
    const emailIndex = async () =>
      (await owner().query<{ def: string }>("SELECT indexdef AS def FROM pg_indexes WHERE indexname = 'users_email_key'", { type: QueryTypes.SELECT }))[0]!.def.replace(/^.* USING btree /, '');
    expect(await emailIndex()).toBe('(email_lower)');
    await umzug().down({ to: MIGRATION });
    expect(await emailIndex()).toBe('(lower(email))');
    // why: `lower` is not leakproof, so under the policy the old index on lower(email) could serve no login
    expect(await loginPlan("lower(email) = 'someone@example.test'")).toMatch(/Seq Scan on users/);
    expect(await owner().query("SELECT 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'email_lower'", { type: QueryTypes.SELECT })).toEqual([]);
    await umzug().up();
    expect(await emailIndex()).toBe('(email_lower)');
  });
});
