import { Organization, User } from '@saas/db';
import { auditEntries, bearer, createUser, seedWorld, startIdentity, unique, type IdentityHarness } from './harness';

let h: IdentityHarness;
beforeAll(async () => {
  h = await startIdentity();
});
afterAll(() => h.close());

const newOrg = (overrides: Record<string, unknown> = {}) => {
  const slug = unique('acme');
  return { name: `Acme ${slug}`, slug, initial_admin_email: `boss@${slug}.test`, ...overrides };
};
const counts = (name: string, slug: string, email: string) =>
  h.runtime.db.asSystem('test assertion', async (transaction) => ({
    orgsByName: await Organization.count({ where: { name }, transaction }),
    orgsBySlug: await Organization.count({ where: { slug }, transaction }),
    users: await User.count({ where: { email }, transaction }),
  }));

describe('POST /orgs', () => {
  it('when an organization is created with a password for its admin, then the admin is active and can log in at once', async () => {
    const superadmin = await createUser(h.runtime.db, { role: 'superadmin' });
    const body = newOrg({ initial_admin_password: 'first-admin-pw' });
    const res = await h.http.post('/orgs').set(bearer(h.tokenOf(superadmin))).send(body);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: body.name, slug: body.slug, status: 'active', initial_admin: { email: body.initial_admin_email, role: 'admin', status: 'active' } });
    expect(res.body).not.toHaveProperty('invite_token');
    const token = (await h.http.post('/users/login').send({ email: body.initial_admin_email, password: 'first-admin-pw' })).body.access_token;
    expect((await h.http.get(`/orgs/${res.body.id}`).set(bearer(token))).status).toBe(200);
  });

  it.each([
    ['name (in another case)', (taken: { name: string; slug: string; email: string }) => newOrg({ name: taken.name.toUpperCase() }), 'name_taken'],
    ['slug', (taken: { name: string; slug: string; email: string }) => newOrg({ slug: taken.slug }), 'slug_taken'],
    ['admin email', (taken: { name: string; slug: string; email: string }) => newOrg({ initial_admin_email: taken.email }), 'email_taken'],
  ])('when the %s is taken, then it answers 409 and writes nothing', async (_label, build, code) => {
    const superadmin = await createUser(h.runtime.db, { role: 'superadmin' });
    const first = newOrg();
    await h.http.post('/orgs').set(bearer(h.tokenOf(superadmin))).send(first).expect(201);
    const taken = { name: first.name, slug: first.slug, email: first.initial_admin_email };
    const second = build(taken);
    const auditBefore = (await auditEntries(h, { actor_id: superadmin.id })).length;
    const res = await h.http.post('/orgs').set(bearer(h.tokenOf(superadmin))).send(second);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe(code);
    const expected = {
      orgsByName: second.name === first.name ? 1 : 0,
      orgsBySlug: second.slug === first.slug ? 1 : 0,
      users: second.initial_admin_email === first.initial_admin_email ? 1 : 0,
    };
    expect(await counts(second.name, second.slug, second.initial_admin_email)).toEqual(expected);
    expect((await auditEntries(h, { actor_id: superadmin.id })).length).toBe(auditBefore);
  });

  it('when the slug is not a valid slug, then it answers 422', async () => {
    const superadmin = await createUser(h.runtime.db, { role: 'superadmin' });
    const res = await h.http.post('/orgs').set(bearer(h.tokenOf(superadmin))).send(newOrg({ slug: 'Not A Slug' }));
    expect(res.status).toBe(422);
    expect(res.body.errors[0].path).toBe('slug');
  });
});

describe('organizations lifecycle', () => {
  it('when an organization is deleted, then it reads back deleted, its members cannot log in, and it cannot be edited', async () => {
    const w = await seedWorld(h);
    const as = bearer(h.tokenOf(w.superadmin));
    expect((await h.http.delete(`/orgs/${w.orgB.id}`).set(as)).status).toBe(204);
    expect((await h.http.get(`/orgs/${w.orgB.id}`).set(as)).body.status).toBe('deleted');
    expect((await h.http.post('/users/login').send({ email: w.userB.email, password: 'correct-horse-battery' })).status).toBe(401);
    expect((await h.http.get('/users/me').set(bearer(h.tokenOf(w.userB)))).status).toBe(401);
    expect((await h.http.patch(`/orgs/${w.orgB.id}`).set(as).send({ name: 'Back' })).status).toBe(409);
  });

  it('when an admin renames their organization, then the name changes; when they try to set its status, then 403 and nothing changes', async () => {
    const w = await seedWorld(h);
    const as = bearer(h.tokenOf(w.adminA));
    const renamed = await h.http.patch(`/orgs/${w.orgA.id}`).set(as).send({ name: `Renamed ${unique()}` });
    expect(renamed.status).toBe(200);
    const refused = await h.http.patch(`/orgs/${w.orgA.id}`).set(as).send({ name: 'Sneaky', status: 'suspended' });
    expect(refused.status).toBe(403);
    expect((await h.http.get(`/orgs/${w.orgA.id}`).set(as)).body).toMatchObject({ name: renamed.body.name, status: 'active' });
  });

  it('when a superadmin lists organizations with a status filter and paging, then the pages hold only matching organizations', async () => {
    const w = await seedWorld(h);
    const as = bearer(h.tokenOf(w.superadmin));
    await h.http.patch(`/orgs/${w.orgB.id}`).set(as).send({ status: 'suspended' }).expect(200);
    const res = await h.http.get('/orgs?status=suspended&limit=1').set(as);
    expect(res.body.items).toHaveLength(1);
    expect(res.body.items[0].status).toBe('suspended');
    const found = await h.http.get(`/orgs?q=${encodeURIComponent(w.orgB.slug)}`).set(as);
    expect(found.body.items.map((o: { id: string }) => o.id)).toEqual([w.orgB.id]);
  });
});

describe('the directory policy (directory_links_existing_users)', () => {
  const policyChanges = async (orgId: string) =>
    (await auditEntries(h, { org_id: orgId, action: 'org.updated' })).map((entry) => (entry.metadata as { changes: Record<string, unknown> }).changes['directory_links_existing_users']);

  it("when the organization's admin lets the directory link existing users, then it answers 200 with the field set, GET shows it and org.updated records the change", async () => {
    const w = await seedWorld(h);
    const as = bearer(h.tokenOf(w.adminA));
    expect((await h.http.get(`/orgs/${w.orgA.id}`).set(as)).body).toMatchObject({ directory_links_existing_users: false });
    const res = await h.http.patch(`/orgs/${w.orgA.id}`).set(as).send({ directory_links_existing_users: true });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: w.orgA.id, directory_links_existing_users: true });
    expect((await h.http.get(`/orgs/${w.orgA.id}`).set(as)).body).toMatchObject({ directory_links_existing_users: true });
    expect(await policyChanges(w.orgA.id)).toEqual([{ from: false, to: true }]);
  });

  it('when the superadmin sets it, then it answers 200 and org.updated records the change', async () => {
    const w = await seedWorld(h);
    const res = await h.http.patch(`/orgs/${w.orgB.id}`).set(bearer(h.tokenOf(w.superadmin))).send({ directory_links_existing_users: true });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ directory_links_existing_users: true });
    expect(await policyChanges(w.orgB.id)).toEqual([{ from: false, to: true }]);
  });

  it("when another organization's admin sets it, then 404; when a plain user of the organization sets it, then 403; and nothing changes", async () => {
    const w = await seedWorld(h);
    expect((await h.http.patch(`/orgs/${w.orgA.id}`).set(bearer(h.tokenOf(w.adminB))).send({ directory_links_existing_users: true })).status).toBe(404);
    expect((await h.http.patch(`/orgs/${w.orgA.id}`).set(bearer(h.tokenOf(w.userA))).send({ directory_links_existing_users: true })).status).toBe(403);
    expect((await h.http.get(`/orgs/${w.orgA.id}`).set(bearer(h.tokenOf(w.adminA)))).body).toMatchObject({ directory_links_existing_users: false });
    expect(await policyChanges(w.orgA.id)).toEqual([]);
  });
});
