import { randomBytes } from 'node:crypto';
import { Database, Organization, User } from '@saas/db';
import { syncExternalUsers, type ExternalSyncResult, type ExternalUserChange } from './index';

const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 2 });
afterAll(() => db.close());

const unique = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;
const createOrg = () =>
  db.asSystem('test fixture', (transaction) => {
    const slug = unique('sync');
    return Organization.create({ name: slug, slug }, { transaction });
  });
/** An account the organization created itself: active, not linked to the directory. */
const createUser = (orgId: string, email = `${unique('own')}@example.test`) =>
  db.asSystem('test fixture', (transaction) => User.create({ org_id: orgId, email, role: 'user', status: 'active' }, { transaction }));

const at = (secondsAgo: number) => new Date(Date.now() - secondsAgo * 1000);

/** One scenario: a fresh organization's fixtures, then its changes; `tag` keeps its emails apart from another run's. */
type Scenario = (org: Organization, tag: string) => Promise<ExternalUserChange[]>;

/** What a run left, comparable across organizations: user ids become the user's email, the run's tag is removed. */
async function outcome(org: Organization, tag: string, results: ExternalSyncResult[]) {
  const users = await db.forOrg(org.id, (transaction) => User.findAll({ order: [['email', 'ASC']], transaction }));
  const untag = (email: string) => email.replace(tag, 'TAG');
  const emailOf = new Map(users.map((u) => [u.id, untag(u.email)]));
  return {
    results: results.map(({ userId, ...result }) => ({ ...result, user: emailOf.get(userId) })),
    users: users.map((u) => ({
      email: untag(u.email),
      ...Object.fromEntries((['first_name', 'last_name', 'department', 'title', 'status', 'external_id', 'token_version', 'role'] as const).map((f) => [f, u[f]])),
    })),
  };
}

/** Runs the scenario twice, in two organizations: its changes as one batch, then each change in its own transaction. */
async function batchAndOneByOne(scenario: Scenario) {
  const [batchOrg, aloneOrg] = [await createOrg(), await createOrg()];
  const [batchTag, aloneTag] = [unique('b'), unique('a')];
  const batchChanges = await scenario(batchOrg, batchTag);
  const batchResults = await db.forOrg(batchOrg.id, (tx) => syncExternalUsers(tx, batchChanges));
  const aloneResults: ExternalSyncResult[] = [];
  for (const change of await scenario(aloneOrg, aloneTag)) aloneResults.push(...(await db.forOrg(aloneOrg.id, (tx) => syncExternalUsers(tx, [change]))));
  return { batch: await outcome(batchOrg, batchTag, batchResults), alone: await outcome(aloneOrg, aloneTag, aloneResults) };
}

describe('external users synced as a batch', () => {
  it('when a batch carries the creation, updates and deletions of one user, then it leaves the rows and results of applying them one by one', async () => {
    const { batch, alone } = await batchAndOneByOne(async (org, tag) => {
      const change = (kind: ExternalUserChange['kind'], secondsAgo: number, profile: ExternalUserChange['profile'] = {}) => ({
        orgId: org.id,
        externalId: 'emp-1',
        kind,
        occurredAt: at(secondsAgo),
        profile,
      });
      return [
        change('created', 50, { email: `Ada.${tag}@Example.test`, first_name: 'Ada', title: 'Engineer' }),
        change('updated', 40, { title: 'Staff Engineer', department: 'R&D' }),
        change('updated', 45, { title: 'older than the update before it' }),
        change('deleted', 30),
        change('updated', 20, { first_name: 'Augusta', email: `ADA.${tag}@EXAMPLE.TEST` }),
        change('deleted', 10),
      ];
    });

    expect(batch).toEqual(alone);
    expect(batch.results.map((r) => [r.outcome, 'tokensRevoked' in r ? r.tokensRevoked : null])).toEqual([
      ['created', false],
      ['updated', false],
      ['skipped', null],
      ['deactivated', true],
      ['updated', false],
      ['deactivated', false],
    ]);
    expect(batch.users).toEqual([
      expect.objectContaining({ email: 'ada.TAG@example.test', first_name: 'Augusta', title: 'Staff Engineer', department: 'R&D', status: 'inactive', token_version: 2 }),
    ]);
  });

  it('when a batch mixes new users, users matched by external id and by email, and a stale change, then each change applies as it would alone', async () => {
    const { batch, alone } = await batchAndOneByOne(async (org, tag) => {
      const change = (externalId: string, kind: ExternalUserChange['kind'], secondsAgo: number, profile: ExternalUserChange['profile'] = {}) => ({
        orgId: org.id,
        externalId,
        kind,
        occurredAt: at(secondsAgo),
        profile,
      });
      const own = await createUser(org.id, `own.${tag}@example.test`);
      await db.forOrg(org.id, (tx) => syncExternalUsers(tx, [change('emp-synced', 'created', 100, { email: `synced.${tag}@example.test` })]));
      return [
        change('emp-new', 'created', 30, { email: `new.${tag}@example.test`, last_name: 'New' }),
        change('emp-synced', 'updated', 50, { title: 'Manager' }),
        change('emp-own', 'created', 40, { email: own.email.toUpperCase(), title: 'Linked' }),
        change('emp-synced', 'updated', 60, { title: 'older than the update before it' }),
        change('emp-own', 'deleted', 5),
      ];
    });

    expect(batch).toEqual(alone);
    expect(batch.results).toEqual([
      { externalId: 'emp-new', outcome: 'created', tokensRevoked: false, user: 'new.TAG@example.test' },
      { externalId: 'emp-synced', outcome: 'updated', tokensRevoked: false, user: 'synced.TAG@example.test' },
      { externalId: 'emp-own', outcome: 'updated', tokensRevoked: false, user: 'own.TAG@example.test' },
      { externalId: 'emp-synced', outcome: 'skipped', reason: 'a newer change of this user was already applied', user: 'synced.TAG@example.test' },
      { externalId: 'emp-own', outcome: 'deactivated', tokensRevoked: true, user: 'own.TAG@example.test' },
    ]);
    expect(batch.users).toEqual([
      expect.objectContaining({ email: 'new.TAG@example.test', external_id: 'emp-new', last_name: 'New', status: 'pending', token_version: 1 }),
      expect.objectContaining({ email: 'own.TAG@example.test', external_id: 'emp-own', title: 'Linked', status: 'inactive', token_version: 2 }),
      expect.objectContaining({ email: 'synced.TAG@example.test', external_id: 'emp-synced', title: 'Manager', status: 'pending' }),
    ]);
  });

  it('when a user takes in passing an email another organization holds, then the batch refuses to apply, and alone that change is a conflict', async () => {
    const [org, other] = [await createOrg(), await createOrg()];
    const taken = await createUser(other.id);
    const change = (secondsAgo: number, kind: ExternalUserChange['kind'], email: string): ExternalUserChange => ({
      orgId: org.id,
      externalId: 'emp-1',
      kind,
      occurredAt: at(secondsAgo),
      profile: { email },
    });
    const changes = [change(30, 'created', `${unique('first')}@example.test`), change(20, 'updated', taken.email), change(10, 'updated', `${unique('last')}@example.test`)];

    await expect(db.forOrg(org.id, (tx) => syncExternalUsers(tx, changes))).rejects.toThrow(/held in passing/);
    await db.forOrg(org.id, (tx) => syncExternalUsers(tx, [changes[0]!]));
    await expect(db.forOrg(org.id, (tx) => syncExternalUsers(tx, [changes[1]!]))).rejects.toThrow(`the email ${taken.email} belongs to another account`);
  });
});
