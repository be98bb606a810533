import { randomBytes } from 'node:crypto';
import { Database, Organization, User, type Role } from '@saas/db';
import { deactivateMember, syncExternalUsers, type ExternalSyncResult, type ExternalUserChange } from './index';

const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 4 });
afterAll(() => db.close());

const unique = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;
const createOrg = (directoryLinksExistingUsers = false) =>
  db.asSystem('test fixture', (transaction) => {
    const slug = unique('sync');
    return Organization.create({ name: slug, slug, directory_links_existing_users: directoryLinksExistingUsers }, { transaction });
  });
/** An account the organization created itself (by default: an active plain user, not linked to the directory). */
const createUser = (orgId: string | null, email = `${unique('own')}@example.test`, fixture: { role?: Role; externalId?: string } = {}) =>
  db.asSystem('test fixture', (transaction) =>
    User.create({ org_id: orgId, email, role: fixture.role ?? 'user', status: 'active', external_id: fixture.externalId ?? null }, { transaction }),
  );
const reload = (user: User) => db.asSystem('test assertion', (transaction) => User.findByPk(user.id, { rejectOnEmpty: true, transaction }));
/** What a refused change must leave untouched. */
const stateOf = ({ org_id, email, role, status, external_id, title, token_version }: User) => ({ org_id, email, role, status, external_id, title, token_version });

const at = (secondsAgo: number) => new Date(Date.now() - secondsAgo * 1000);

/** One scenario: a fresh organization's fixtures, then its changes; `tag` keeps its emails apart from another run's. */
type Scenario = (org: Organization, tag: string) => Promise<ExternalUserChange[]>;

/** What a run left, comparable across organizations: user ids become the user's email, the run's tag is removed. */
async function outcome(org: Organization, tag: string, results: ExternalSyncResult[]) {
  const users = await db.forOrg(org.id, (transaction) => User.findAll({ order: [['email', 'ASC']], transaction }));
  const untag = (email: string) => email.replace(tag, 'TAG');
  const emailOf = new Map(users.map((u) => [u.id, untag(u.email)]));
  return {
    results: results.map(({ userId, ...result }) => ({ ...result, ...('email' in result ? { email: untag(result.email) } : {}), user: emailOf.get(userId) })),
    users: users.map((u) => ({
      email: untag(u.email),
      ...Object.fromEntries((['first_name', 'last_name', 'department', 'title', 'status', 'external_id', 'token_version', 'role'] as const).map((f) => [f, u[f]])),
    })),
  };
}

/** Runs the scenario twice, in two organizations (letting the directory link existing users): its changes as one batch, then each change in its own transaction. */
async function batchAndOneByOne(scenario: Scenario) {
  const [batchOrg, aloneOrg] = [await createOrg(true), await createOrg(true)];
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
      { externalId: 'emp-own', outcome: 'linked', email: 'own.TAG@example.test', tokensRevoked: false, user: 'own.TAG@example.test' },
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
    await expect(db.forOrg(org.id, (tx) => syncExternalUsers(tx, [changes[1]!]))).rejects.toThrow(
      `email_owned_by_unmanaged_account: the email ${taken.email} belongs to an account outside the organization`,
    );
  });
});

const change = (org: Organization, externalId: string, kind: ExternalUserChange['kind'], profile: ExternalUserChange['profile'] = {}, secondsAgo = 10): ExternalUserChange => ({
  orgId: org.id,
  externalId,
  kind,
  occurredAt: at(secondsAgo),
  profile,
});
const sync = (org: Organization, changes: ExternalUserChange[]) => db.forOrg(org.id, (tx) => syncExternalUsers(tx, changes));
const refused = (code: string) => expect.objectContaining({ name: 'ExternalUserConflictError', code, message: expect.stringMatching(new RegExp(`^${code}: `)) });

/** The accounts a directory entry must never take, by what makes them off limits. */
const UNMANAGED: [string, boolean, (org: Organization) => Promise<User>][] = [
  ['an admin of the organization (links off)', false, (org) => createUser(org.id, undefined, { role: 'admin' })],
  ['an admin of the organization (links on)', true, (org) => createUser(org.id, undefined, { role: 'admin' })],
  ['a plain user of the organization (links off)', false, (org) => createUser(org.id)],
  ['a plain user of the organization linked to another entry (links on)', true, (org) => createUser(org.id, undefined, { externalId: unique('emp') })],
  ['a superadmin (links on)', true, () => createUser(null, undefined, { role: 'superadmin' })],
  ["another organization's user (links on there and here)", true, async () => createUser((await createOrg(true)).id)],
];

describe('the directory takes over no account it does not manage', () => {
  it.each(UNMANAGED)(
    'when user.created or user.updated of a new entry carries the email of %s, then it is refused (email_owned_by_unmanaged_account) and the account is unchanged',
    async (_holder, links, holderOf) => {
      const org = await createOrg(links);
      const holder = await holderOf(org);
      for (const kind of ['created', 'updated'] as const) {
        const attempt = sync(org, [change(org, unique('emp'), kind, { email: holder.email.toUpperCase(), title: 'Taken over' })]);
        await expect(attempt).rejects.toEqual(refused('email_owned_by_unmanaged_account'));
      }
      expect(stateOf(await reload(holder))).toEqual(stateOf(holder));
      expect(await db.forOrg(org.id, (transaction) => User.count({ where: { org_id: org.id }, transaction }))).toBe(holder.org_id === org.id ? 1 : 0);
    },
  );

  it.each(UNMANAGED)(
    "when user.updated changes a managed user's email to the email of %s, then it is refused (email_owned_by_unmanaged_account) and both are unchanged",
    async (_holder, links, holderOf) => {
      const org = await createOrg(links);
      const holder = await holderOf(org);
      const managed = await createUser(org.id, undefined, { externalId: unique('emp') });
      await expect(sync(org, [change(org, managed.external_id!, 'updated', { email: holder.email, title: 'Taken over' })])).rejects.toEqual(
        refused('email_owned_by_unmanaged_account'),
      );
      expect(stateOf(await reload(holder))).toEqual(stateOf(holder));
      expect(stateOf(await reload(managed))).toEqual(stateOf(managed));
    },
  );

  it('when user.created carries the email of a plain user of an organization that lets the directory link existing users, then that user is linked and its profile applied', async () => {
    const org = await createOrg(true);
    const own = await createUser(org.id);
    const [result] = await sync(org, [change(org, 'emp-1', 'created', { email: own.email.toUpperCase(), title: 'Linked' })]);
    expect(result).toEqual({ externalId: 'emp-1', outcome: 'linked', email: own.email, userId: own.id, tokensRevoked: false });
    expect(stateOf(await reload(own))).toEqual({ ...stateOf(own), external_id: 'emp-1', title: 'Linked' });
  });

  it("when a change names the external id of a superadmin or of another organization's user, then it applies to this organization's own entry and leaves them unchanged", async () => {
    const [org, other] = [await createOrg(true), await createOrg(true)];
    const externalId = unique('emp');
    const superadmin = await createUser(null, undefined, { role: 'superadmin', externalId });
    const elsewhere = await createUser(other.id, undefined, { externalId });
    const [result] = await sync(org, [change(org, externalId, 'created', { email: `${unique('new')}@example.test`, title: 'New' })]);
    expect(result).toMatchObject({ outcome: 'created' });
    await expect(sync(org, [change(org, externalId, 'deleted', {}, 5)])).resolves.toEqual([expect.objectContaining({ outcome: 'deactivated', userId: result!.userId })]);
    expect(stateOf(await reload(superadmin))).toEqual(stateOf(superadmin));
    expect(stateOf(await reload(elsewhere))).toEqual(stateOf(elsewhere));
  });
});

describe('the directory never leaves an organization without an active admin', () => {
  /** An organization whose only active admin is managed by the directory, next to admins that do not count. */
  async function orgWithLastAdmin() {
    const org = await createOrg(true);
    const admin = await createUser(org.id, undefined, { role: 'admin', externalId: unique('emp') });
    const pendingAdmin = await createUser(org.id, undefined, { role: 'admin' });
    await db.asSystem('test fixture', (transaction) => pendingAdmin.update({ status: 'pending' }, { transaction }));
    await createUser(org.id);
    return { org, admin };
  }

  it('when user.deleted names the last active admin, then it is refused (last_active_admin) and the admin is unchanged', async () => {
    const { org, admin } = await orgWithLastAdmin();
    await expect(sync(org, [change(org, admin.external_id!, 'deleted')])).rejects.toEqual(refused('last_active_admin'));
    expect(stateOf(await reload(admin))).toEqual(stateOf(admin));
  });

  it('when user.deleted names an admin while another active admin exists, then the admin is deactivated', async () => {
    const { org, admin } = await orgWithLastAdmin();
    await createUser(org.id, undefined, { role: 'admin' });
    expect(await sync(org, [change(org, admin.external_id!, 'deleted')])).toEqual([expect.objectContaining({ outcome: 'deactivated', tokensRevoked: true })]);
    expect(await reload(admin)).toMatchObject({ status: 'inactive', token_version: admin.token_version + 1 });
  });

  it('when one batch deletes the two last active admins, then the batch is refused; one by one, the first deletion applies and the second is refused', async () => {
    const { org, admin } = await orgWithLastAdmin();
    const second = await createUser(org.id, undefined, { role: 'admin', externalId: unique('emp') });
    const deletions = [change(org, second.external_id!, 'deleted', {}, 20), change(org, admin.external_id!, 'deleted', {}, 10)];
    await expect(sync(org, deletions)).rejects.toEqual(refused('last_active_admin'));
    expect([stateOf(await reload(second)), stateOf(await reload(admin))]).toEqual([stateOf(second), stateOf(admin)]);

    expect(await sync(org, [deletions[0]!])).toEqual([expect.objectContaining({ outcome: 'deactivated' })]);
    await expect(sync(org, [deletions[1]!])).rejects.toEqual(refused('last_active_admin'));
    expect([(await reload(second)).status, (await reload(admin)).status]).toEqual(['inactive', 'active']);
  });

  it('when the API deactivates one of two active admins while the directory deletes the other, then the one that locks first applies, the other is refused, and they never deadlock', async () => {
    const { org, admin: managed } = await orgWithLastAdmin();
    const other = await createUser(org.id, undefined, { role: 'admin' });
    let apiLocked!: () => void;
    const locked = new Promise<void>((resolve) => (apiLocked = resolve));
    // the API's order: the user's row (as the route locks it), then the organization's (assertAnotherActiveAdmin)
    const api = db.forOrg(org.id, async (tx) => {
      const user = await User.findByPk(other.id, { lock: tx.LOCK.NO_KEY_UPDATE, rejectOnEmpty: true, transaction: tx });
      apiLocked();
      await new Promise((resolve) => setTimeout(resolve, 300)); // the directory's batch is waiting for that row meanwhile
      return deactivateMember(tx, user, { actorType: 'user', actorId: managed.id });
    });
    await locked;
    const directory = sync(org, [change(org, managed.external_id!, 'deleted')]);

    await expect(api).resolves.toEqual({ tokensRevoked: true });
    await expect(directory).rejects.toEqual(refused('last_active_admin'));
    expect([(await reload(other)).status, (await reload(managed)).status]).toEqual(['inactive', 'active']);
  });
});
