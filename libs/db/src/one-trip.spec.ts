import { randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { escapeLiteral } from 'pg';
import { QueryTypes } from 'sequelize';
import { Database } from './database';
import { Organization, User } from './models';
import { sql, sqlList } from './one-trip';

// One connection: whatever a read leaves behind on it, the next statement sees.
const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 1 });
afterAll(() => db.close());

async function orgWithUser(): Promise<User> {
  const slug = `one-trip-${randomBytes(4).toString('hex')}`;
  return db.asSystem('test fixture', async (transaction) => {
    const org = await Organization.create({ name: slug, slug }, { transaction });
    return User.create({ org_id: org.id, email: `${slug}@example.test`, role: 'user', status: 'active' }, { transaction });
  });
}

const emailsOf = (ids: string[]) => sql`SELECT email FROM users WHERE id IN (${ids[0]!}, ${ids[1]!}) ORDER BY email`;

describe('Database.readForOrg / readAsSystem', () => {
  let a: User;
  let b: User;
  beforeAll(async () => {
    [a, b] = [await orgWithUser(), await orgWithUser()];
  });

  it("when an organization reads rows of two organizations, then row-level security returns only its own", async () => {
    const rows = await db.readForOrg<{ email: string }>(a.org_id!, emailsOf([a.id, b.id]));
    expect(rows).toEqual([{ email: a.email }]);
  });

  it('when the system reads the same rows, then it sees both organizations', async () => {
    const rows = await db.readAsSystem<{ email: string }>('test', emailsOf([a.id, b.id]));
    expect(rows.map((r) => r.email).sort()).toEqual([a.email, b.email].sort());
  });

  it('when a read is over, then its organization context ended with it', async () => {
    await db.readForOrg(a.org_id!, sql`SELECT 1`);
    const [setting] = await db.sequelize.query<{ org: string | null }>("SELECT current_setting('app.org_id', true) AS org", { type: QueryTypes.SELECT });
    expect(setting!.org ?? '').toBe('');
    expect(await db.sequelize.query('SELECT id FROM users WHERE id = :id', { replacements: { id: a.id }, type: QueryTypes.SELECT })).toEqual([]);
  });

  it('when the statement fails, then the error surfaces and the connection is not left inside a transaction', async () => {
    await expect(db.readForOrg(a.org_id!, sql`SELECT 1 / ${0}`)).rejects.toThrow(/division by zero/);
    const rows = await db.readForOrg<{ email: string }>(a.org_id!, emailsOf([a.id, b.id]));
    expect(rows).toEqual([{ email: a.email }]);
    // outside a transaction, each statement's transaction starts with it
    const [clock] = await db.sequelize.query<{ now: Date; statement: Date }>('SELECT now(), statement_timestamp() AS statement', { type: QueryTypes.SELECT });
    expect(clock!.now).toEqual(clock!.statement);
  });

  it('when the statement writes, then the read-only transaction refuses it', async () => {
    await expect(db.readForOrg(a.org_id!, sql`UPDATE users SET title = ${'x'} WHERE id = ${a.id}`)).rejects.toThrow(/read-only transaction/);
  });

  it('when a value carries quotes, backslashes or SQL, then it is compared as one literal', async () => {
    const hostile = `x' OR '1'='1'; SELECT 'E\\' --`;
    const [row] = await db.readForOrg<{ v: string; n: number; t: boolean; z: null }>(a.org_id!, sql`SELECT ${hostile} AS v, ${-1.5} AS n, ${true} AS t, ${null} AS z`);
    expect(row).toEqual({ v: hostile, n: '-1.5', t: true, z: null });
    expect(await db.readForOrg(a.org_id!, sql`SELECT id FROM users WHERE email = ${hostile}`)).toEqual([]);
  });

  it('when the organization id is not a uuid, then the read is refused before it reaches the database', async () => {
    await expect(db.readForOrg(`${randomUUID()}', true); --`, sql`SELECT 1`)).rejects.toThrow(TypeError);
  });

  it('when any string (but NUL) is written in, then the literal is exactly what pg’s escapeLiteral writes', () => {
    const text = fc.oneof(fc.string({ unit: 'binary' }), fc.stringMatching(/^[a-z'\\\\ E]*$/));
    fc.assert(fc.property(text.filter((s) => !s.includes('\u0000')), (value) => sql`${value}`.text === escapeLiteral(value)), { numRuns: 1000 });
  });

  it('when a number is not finite, then building the statement fails', () => {
    expect(() => sql`SELECT ${Number.NaN}`).toThrow(TypeError);
  });
});

describe('Database.writeAsSystem', () => {
  let a: User;
  let b: User;
  beforeAll(async () => {
    [a, b] = [await orgWithUser(), await orgWithUser()];
  });
  const titles = () =>
    db.readAsSystem<{ id: string; title: string | null }>('test', sql`SELECT id, title FROM users WHERE id IN (${sqlList([a.id, b.id])}) ORDER BY id`);

  it('when one statement writes rows of two organizations, then it commits them and returns its rows, and its context ends with it', async () => {
    const rows = await db.writeAsSystem<{ id: string }>('test', sql`UPDATE users SET title = ${'written'} WHERE id = ANY(ARRAY[${sqlList([a.id, b.id])}]::uuid[]) RETURNING id`);
    expect(rows.map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
    expect((await titles()).map((r) => r.title)).toEqual(['written', 'written']);
    const [setting] = await db.sequelize.query<{ scope: string | null }>("SELECT current_setting('app.scope', true) AS scope", { type: QueryTypes.SELECT });
    expect(setting!.scope ?? '').toBe('');
  });

  it('when the statement fails part-way, then nothing of it is stored and the error carries the driver’s code like any query’s', async () => {
    const failing = sql`UPDATE users SET title = CASE WHEN id = ${b.id} THEN (1 / 0)::text ELSE ${'partial'} END WHERE id IN (${sqlList([a.id, b.id])})`;
    await expect(db.writeAsSystem('test', failing)).rejects.toMatchObject({ name: 'SequelizeDatabaseError', parent: { code: '22012' } });
    expect((await titles()).map((r) => r.title)).not.toContain('partial');
    const [clock] = await db.sequelize.query<{ now: Date; statement: Date }>('SELECT now(), statement_timestamp() AS statement', { type: QueryTypes.SELECT });
    expect(clock!.now).toEqual(clock!.statement);
  });

  it('when the write need not be durable, then it still commits, and synchronous_commit is back to its default afterwards', async () => {
    await db.writeAsSystem('test', sql`UPDATE users SET title = ${'fast'} WHERE id = ${a.id}`, { durable: false });
    expect((await titles()).find((r) => r.id === a.id)!.title).toBe('fast');
    const [setting] = await db.sequelize.query<{ synchronous_commit: string }>('SHOW synchronous_commit', { type: QueryTypes.SELECT });
    expect(setting!.synchronous_commit).toBe('on');
  });

  it('when a list holds hostile values, then each is one literal; a NUL is refused before the statement is sent', async () => {
    const hostile = [`x', 'y`, `'); DROP TABLE users; --`, 'plain'];
    const [row] = await db.writeAsSystem<{ values: string[] }>('test', sql`SELECT ARRAY[${sqlList(hostile)}] AS values`);
    expect(row!.values).toEqual(hostile);
    expect(() => sqlList(['a\u0000b'])).toThrow(TypeError);
  });
});

describe('Database applicationName', () => {
  it("when a service names its connections, then pg_stat_activity shows the name on each", async () => {
    const named = new Database({ url: process.env['DATABASE_URL']!, poolMax: 1, applicationName: 'one-trip-spec' });
    try {
      const [row] = await named.sequelize.query<{ application_name: string }>('SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()', {
        type: QueryTypes.SELECT,
      });
      expect(row!.application_name).toBe('one-trip-spec');
    } finally {
      await named.close();
    }
  });
});
