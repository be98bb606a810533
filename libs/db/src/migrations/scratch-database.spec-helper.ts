import { Sequelize } from 'sequelize';
import { SequelizeStorage, Umzug } from 'umzug';
import { ensureDatabase, runMigrations } from '../migrate';
import { migrations } from './index';

const withDatabase = (url: string, name: string) => Object.assign(new URL(url), { pathname: `/${name}` }).toString();

/**
 * A migrated database of the spec's own, with an owner connection, a services-role connection (row-level security
 * applies) and an Umzug over it: reverting a migration changes policies, indexes and columns other specs of this run
 * rely on. Registers its own setup and teardown.
 */
export function scratchDatabase(suffix: string): {
  owner: () => Sequelize;
  services: () => Sequelize;
  umzug: () => Umzug<ReturnType<Sequelize['getQueryInterface']>>;
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
  return { owner: () => owner, services: () => services, umzug: () => umzug };
}
