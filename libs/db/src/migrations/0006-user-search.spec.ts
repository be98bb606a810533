import { QueryTypes } from 'sequelize';
import { SEARCH_FIELD_SEPARATOR } from '../pagination';
import { scratchDatabase } from './scratch-database.spec-helper';

const MIGRATION = '0006-user-search';
const { owner, umzug, indexColumns } = scratchDatabase('m0006');

const query = <T extends object>(sql: string, bind: unknown[] = []) => owner().query<T>(sql, { bind, type: QueryTypes.SELECT });

/** A superadmin row (no organization needed), as the owner; its stored search text. */
async function searchOf(email: string, firstName: string | null, lastName: string | null): Promise<string | null> {
  const [row] = await query<{ search: string | null }>(
    "INSERT INTO users (org_id, email, role, status, first_name, last_name) VALUES (NULL, $1, 'superadmin', 'active', $2, $3) RETURNING search",
    [email, firstName, lastName],
  );
  return row!.search;
}

const usersIndexes = () => indexColumns('users_created_idx', 'users_org_created_idx', 'users_unsearchable_idx');

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
    expect(await usersIndexes()).toEqual(MIGRATED);
    await umzug().down({ to: MIGRATION });
    expect(await usersIndexes()).toEqual(['(created_at, id)', '(org_id, created_at, id)']);
    expect(await query("SELECT 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'search'")).toEqual([]);
    await umzug().up();
    expect(await usersIndexes()).toEqual(MIGRATED);
    expect(await searchOf('again@example.test', 'Re', 'Applied')).toBe(['again@example.test', 're', 'applied'].join(SEARCH_FIELD_SEPARATOR));
  });
});
