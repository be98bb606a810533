import { Client } from 'pg';
import { Sequelize } from 'sequelize';
import { SequelizeStorage, Umzug } from 'umzug';
import { ensureDatabase, runMigrations } from '../migrate';
import { SEARCH_FIELD_SEPARATOR } from '../pagination';
import { migrations } from './index';

const MIGRATION = '0006-user-search';

// Reverting it drops a column and rebuilds indexes other specs of this run read: a database of its own.
const urlOf = (url: string, database: string) => Object.assign(new URL(url), { pathname: `/${database}` }).toString();
const database = `${new URL(process.env['DATABASE_ADMIN_URL']!).pathname.slice(1)}_m0006`;
const owner = new Client({ connectionString: urlOf(process.env['DATABASE_ADMIN_URL']!, database) });

beforeAll(async () => {
  await ensureDatabase(urlOf(process.env['DATABASE_ADMIN_URL']!, database));
  await runMigrations({ adminUrl: urlOf(process.env['DATABASE_ADMIN_URL']!, database), serviceUrl: urlOf(process.env['DATABASE_URL']!, database) });
  await owner.connect();
});
afterAll(async () => {
  await owner.end();
  const server = new Client({ connectionString: urlOf(process.env['DATABASE_ADMIN_URL']!, 'postgres') });
  await server.connect();
  await server.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await server.end();
});

/** A superadmin row (no organization needed), as the owner; its stored search text. */
async function searchOf(email: string, firstName: string | null, lastName: string | null): Promise<string | null> {
  const { rows } = await owner.query<{ search: string | null }>(
    "INSERT INTO users (org_id, email, role, status, first_name, last_name) VALUES (NULL, $1, 'superadmin', 'active', $2, $3) RETURNING search",
    [email, firstName, lastName],
  );
  return rows[0]!.search;
}

async function usersIndexes(): Promise<string[]> {
  const { rows } = await owner.query<{ def: string }>(
    "SELECT indexdef AS def FROM pg_indexes WHERE tablename = 'users' AND indexname IN ('users_created_idx', 'users_org_created_idx', 'users_unsearchable_idx') ORDER BY indexname",
  );
  return rows.map((r) => r.def.replace(/^.* USING btree /, ''));
}

const MIGRATED = ['(created_at, id) INCLUDE (org_id, status, role, search)', '(org_id, created_at, id) INCLUDE (status, role, search)', '(org_id, created_at, id) WHERE (search IS NULL)'];

describe(`migration ${MIGRATION}`, () => {
  it('when a user is stored, then search holds the lower-cased e-mail and names between separators, an absent name as empty', async () => {
    expect(await searchOf('Ana.Search@Example.TEST', 'ÉLODIE', 'McDonald')).toBe(['ana.search@example.test', 'élodie', 'mcdonald'].join(SEARCH_FIELD_SEPARATOR));
    expect(await searchOf('no-names@example.test', null, null)).toBe(`no-names@example.test${SEARCH_FIELD_SEPARATOR}${SEARCH_FIELD_SEPARATOR}`);
  });

  it('when the search text would exceed 2000 bytes (a name of 1000 four-byte characters), then the user is still stored, with search NULL', async () => {
    expect(await searchOf('long-name@example.test', '😀'.repeat(1000), 'x')).toBeNull();
    expect(await searchOf('long-enough@example.test', 'a'.repeat(1000), 'b'.repeat(900))).not.toBeNull();
  });

  it('when it is reverted, then the column is gone and the two indexes are as before; when applied again, then it is as migrated', async () => {
    const admin = new Sequelize(urlOf(process.env['DATABASE_ADMIN_URL']!, database), { logging: false });
    try {
      const umzug = new Umzug({ migrations, context: admin.getQueryInterface(), storage: new SequelizeStorage({ sequelize: admin }), logger: undefined });
      expect(await usersIndexes()).toEqual(MIGRATED);
      await umzug.down({ to: MIGRATION });
      expect(await usersIndexes()).toEqual(['(created_at, id)', '(org_id, created_at, id)']);
      expect((await owner.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'search'")).rowCount).toBe(0);
      await umzug.up();
      expect(await usersIndexes()).toEqual(MIGRATED);
      expect(await searchOf('again@example.test', 'Re', 'Applied')).toBe(['again@example.test', 're', 'applied'].join(SEARCH_FIELD_SEPARATOR));
    } finally {
      await admin.close();
    }
  });
});
