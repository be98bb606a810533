import { QueryTypes } from 'sequelize';
import { scratchDatabase } from './scratch-database.spec-helper';

const MIGRATION = '0009-recipient-lookup';
const { owner, umzug, indexColumns, servicesPlan } = scratchDatabase('m0009');
const ORG = '00000000-0000-4000-8000-000000000009';

/** The plan of a `?recipient=` page as the services role in ORG's context. */
const recipientPlan = (condition: string) =>
  servicesPlan({ orgId: ORG }, `SELECT id FROM communication_logs WHERE org_id = '${ORG}' AND ${condition} ORDER BY created_at DESC, id DESC LIMIT 51`);
const recipientIndex = () => indexColumns('communication_logs_org_recipient_idx');

describe(`migration ${MIGRATION}`, () => {
  it('when a page of one recipient is read under row-level security, then the index finds the recipient and gives the list order', async () => {
    const plan = await recipientPlan("recipient_lower = 'ann@example.test'");
    expect(plan).toMatch(/Index (Only )?Scan using communication_logs_org_recipient_idx/);
    expect(plan).toMatch(/Index Cond: .*recipient_lower = 'ann@example.test'/);
    expect(plan).not.toMatch(/Sort/);
  });

  it('when a log is stored, then recipient_lower holds its recipient lower-cased', async () => {
    await owner().query("INSERT INTO organizations (id, name, slug) VALUES ($1, 'm0009', 'm0009')", { bind: [ORG] });
    const [row] = await owner().query<{ recipient_lower: string }>(
      "INSERT INTO communication_logs (org_id, message_id, recipient, template, status) VALUES ($1, 'msg-1', 'Ann@Example.TEST', 'welcome', 'delivered') RETURNING recipient_lower",
      { bind: [ORG], type: QueryTypes.SELECT },
    );
    expect(row!.recipient_lower).toBe('ann@example.test');
  });

  it('when it is reverted, then the column is gone and the index is as before; when applied again, then it is as migrated', async () => {
    const migrated = ['(org_id, recipient_lower, created_at DESC, id DESC)'];
    expect(await recipientIndex()).toEqual(migrated);
    await umzug().down({ to: MIGRATION });
    expect(await recipientIndex()).toEqual(['(org_id, lower(recipient))']);
    // why: `lower` is not leakproof, so the old index could not take lower(recipient) as a condition, only org_id
    const before = await recipientPlan("lower(recipient) = 'ann@example.test'");
    expect(before).toMatch(/Index Cond: \(org_id = /);
    expect(before).not.toMatch(/Index Cond: .*lower\(recipient\)/);
    expect(await owner().query("SELECT 1 FROM information_schema.columns WHERE table_name = 'communication_logs' AND column_name = 'recipient_lower'", { type: QueryTypes.SELECT })).toEqual([]);
    await umzug().up();
    expect(await recipientIndex()).toEqual(migrated);
  });
});
