import { QueryTypes, Sequelize } from 'sequelize';
import { SequelizeStorage, Umzug } from 'umzug';
import { ensureDatabase, runMigrations } from '../migrate';
import { migrations } from './index';

const withDatabase = (url: string, name: string) => Object.assign(new URL(url), { pathname: `/${name}` }).toString();

/** The context a services-role statement runs in: one organization's, or the system scope. */
export type PlanScope = { orgId: string } | 'system';

/**
 * A migrated database of the spec's own, with an owner connection, a services-role connection (row-level security
 * applies) and an Umzug over it: reverting a migration changes policies, indexes and columns other specs of this run
 * rely on. Registers its own setup and teardown. Also: the definitions of indexes, and the plan of a statement as the
 * services role with sequential scans priced out (so an index it can use, it does use).
 */
export function scratchDatabase(suffix: string): {
  owner: () => Sequelize;
  umzug: () => Umzug<ReturnType<Sequelize['getQueryInterface']>>;
  indexColumns: (...indexNames: string[]) => Promise<string[]>;
  servicesPlan: (scope: PlanScope, statement: string) => Promise<string>;
} {
  const name = `${new URL(process.env['DATABASE_ADMIN_URL']!).pathname.slice(1)}_${suffix}`;
  const adminUrl = withDatabase(process.env['DATABASE_ADMIN_URL']!, name);
  const serviceUrl = withDatabase(process.env['DATABASE_URL']!, name);
  let owner: Sequelize;
  let services: Sequelize;
  let umzug: Umzug<ReturnType<Sequelize['getQueryInterface']>>;
  beforeAll(async () => {
    await ensureDatabase(adminUrl);
    await runMigrations({ adminUrl, serviceUrl });
    owner = new Sequelize(adminUrl, { logging: false });
    services = new Sequelize(serviceUrl, { logging: false });
    umzug = new Umzug({ migrations, context: owner.getQueryInterface(), storage: new SequelizeStorage({ sequelize: owner }), logger: undefined });
  });
  afterAll(async () => {
    await services.close();
    await owner.close();
    const server = new Sequelize(withDatabase(adminUrl, 'postgres'), { logging: false });
    await server.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await server.close();
  });
  /** What follows `USING btree` in each named index that exists, in index-name order. */
  const indexColumns = async (...indexNames: string[]) => {
    const rows = await owner.query<{ def: string }>('SELECT indexdef AS def FROM pg_indexes WHERE indexname = ANY($1) ORDER BY indexname', {
      bind: [indexNames],
      type: QueryTypes.SELECT,
    });
    return rows.map((r) => r.def.replace(/^.* USING btree /, ''));
  };
  const servicesPlan = (scope: PlanScope, statement: string) =>
    services.transaction(async (transaction) => {
      const context =
        scope === 'system'
          ? "SELECT set_config('app.scope', 'system', true), set_config('app.reason', 'migration spec', true)"
          : `SELECT set_config('app.org_id', '${scope.orgId}', true), set_config('app.scope', '', true)`;
      await services.query(context, { transaction });
      await services.query('SET LOCAL enable_seqscan = off', { transaction });
      const rows = await services.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${statement}`, { type: QueryTypes.SELECT, transaction });
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    });
  return { owner: () => owner, umzug: () => umzug, indexColumns, servicesPlan };
}
