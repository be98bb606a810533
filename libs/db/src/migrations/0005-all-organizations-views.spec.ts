import { QueryTypes } from 'sequelize';
import { TENANT_TABLES } from './0002-row-level-security';
import { scratchDatabase } from './scratch-database.spec-helper';

const MIGRATION = '0005-all-organizations-views';
const INDEXES = ['audit_logs_created_idx', 'webhook_events_service_status_received_idx', 'webhook_events_service_updated_idx'];

const { owner, umzug } = scratchDatabase('m0005');
const POLICY_TABLES = ['organizations', ...TENANT_TABLES];

async function schema(): Promise<{ indexes: string[]; policiesReadSettingsOnce: boolean[] }> {
  const indexes = await owner().query<{ name: string }>('SELECT indexname AS name FROM pg_indexes WHERE indexname IN (:names) ORDER BY 1', {
    replacements: { names: INDEXES },
    type: QueryTypes.SELECT,
  });
  const policies = await owner().query<{ once: boolean }>(
    "SELECT qual LIKE '%SELECT app_is_system()%' AND with_check LIKE '%SELECT app_is_system()%' AS once FROM pg_policies WHERE policyname = 'tenant_isolation' AND tablename IN (:tables) ORDER BY tablename",
    { replacements: { tables: POLICY_TABLES }, type: QueryTypes.SELECT },
  );
  return { indexes: indexes.map((i) => i.name), policiesReadSettingsOnce: policies.map((p) => p.once) };
}

describe(`migration ${MIGRATION}`, () => {
  it('when it is reverted, then its indexes and the per-row policies are back as before; when applied again, then it is as migrated', async () => {
    const everyTable = (once: boolean) => POLICY_TABLES.map(() => once);
    expect(await schema()).toEqual({ indexes: INDEXES, policiesReadSettingsOnce: everyTable(true) });
    await umzug().down({ to: MIGRATION });
    expect(await schema()).toEqual({ indexes: [], policiesReadSettingsOnce: everyTable(false) });
    await umzug().up();
    expect(await schema()).toEqual({ indexes: INDEXES, policiesReadSettingsOnce: everyTable(true) });
  });
});
