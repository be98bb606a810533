import { QueryTypes, Sequelize } from 'sequelize';
import { SequelizeStorage, Umzug } from 'umzug';
import { ensureDatabase, runMigrations } from '../migrate';
import { migrations } from './index';

const MIGRATION = '0005-all-organizations-views';
const INDEXES = ['audit_logs_created_idx', 'webhook_events_service_status_received_idx', 'webhook_events_service_updated_idx'];

// Reverting a migration changes policies and indexes other specs of this run rely on: do it in a database of its own.
const withDatabase = (url: string, name: string) => Object.assign(new URL(url), { pathname: `/${name}` }).toString();
const scratch = `${new URL(process.env['DATABASE_ADMIN_URL']!).pathname.slice(1)}_m0005`;
const adminUrl = withDatabase(process.env['DATABASE_ADMIN_URL']!, scratch);
let owner: Sequelize;

beforeAll(async () => {
  await ensureDatabase(adminUrl);
  await runMigrations({ adminUrl, serviceUrl: withDatabase(process.env['DATABASE_URL']!, scratch) });
  owner = new Sequelize(adminUrl, { logging: false });
});
afterAll(async () => {
  await owner.close();
  const server = new Sequelize(withDatabase(adminUrl, 'postgres'), { logging: false });
  await server.query(`DROP DATABASE IF EXISTS "${scratch}" WITH (FORCE)`);
  await server.close();
});

async function schema(): Promise<{ indexes: string[]; policiesReadSettingsOnce: boolean[] }> {
  const indexes = await owner.query<{ name: string }>('SELECT indexname AS name FROM pg_indexes WHERE indexname IN (:names) ORDER BY 1', {
    replacements: { names: INDEXES },
    type: QueryTypes.SELECT,
  });
  const policies = await owner.query<{ once: boolean }>(
    "SELECT qual LIKE '%SELECT app_is_system()%' AND with_check LIKE '%SELECT app_is_system()%' AS once FROM pg_policies WHERE policyname = 'tenant_isolation' ORDER BY tablename",
    { type: QueryTypes.SELECT },
  );
  return { indexes: indexes.map((i) => i.name), policiesReadSettingsOnce: policies.map((p) => p.once) };
}

describe(`migration ${MIGRATION}`, () => {
  it('when it is reverted, then its indexes and the per-row policies are back as before; when applied again, then it is as migrated', async () => {
    const umzug = new Umzug({ migrations, context: owner.getQueryInterface(), storage: new SequelizeStorage({ sequelize: owner }), logger: undefined });
    const everyTable = (once: boolean) => Array.from({ length: 7 }, () => once);
    expect(await schema()).toEqual({ indexes: INDEXES, policiesReadSettingsOnce: everyTable(true) });
    await umzug.down({ to: MIGRATION });
    expect(await schema()).toEqual({ indexes: [], policiesReadSettingsOnce: everyTable(false) });
    await umzug.up();
    expect(await schema()).toEqual({ indexes: INDEXES, policiesReadSettingsOnce: everyTable(true) });
  });
});
