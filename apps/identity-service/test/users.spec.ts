import { Invite, User } from '@saas/db';
import { auditEntries, bearer, createOrg, createUser, DEFAULT_TEST_PASSWORD, seedWorld, startIdentity, unique, type IdentityHarness } from './harness';

let h: IdentityHarness;
beforeAll(async () => {
  h = await startIdentity();
});
afterAll(() => h.close());

const login = (email: string, password = DEFAULT_TEST_PASSWORD) => h.http.post('/users/login').send({ email, password });
const usersWithEmail = (email: string) => h.runtime.db.asSystem('test assertion', (transaction) => User.count({ where: { email }, transaction }));

describe('POST /users', () => {
  it('when the email exists already (in any case, in any organization), then it answers 409 and writes nothing', async () => {
    const w = await seedWorld(h);
    const before = (await auditEntries(h, { org_id: w.orgA.id })).length;
    const res = await h.http.post('/users').set(bearer(h.tokenOf(w.adminA))).send({ email: w.userB.email.toUpperCase(), password: 'a-good-password' });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('email_taken');
    expect(await usersWithEmail(w.userB.email)).toBe(1);
    expect((await auditEntries(h, { org_id: w.orgA.id })).length).toBe(before);
  });

  it('when no password is given, then the user is pending and an invite token is shown once, stored only hashed', async () => {
    const w = await seedWorld(h);
    const res = await h.http.post('/users').set(bearer(h.tokenOf(w.adminA))).send({ email: `${unique('inv')}@example.test`, first_name: 'Ann' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'pending', role: 'user', org_id: w.orgA.id, first_name: 'Ann', invite_token: expect.any(String) });
    const invites = await h.runtime.db.forOrg(w.orgA.id, (transaction) => Invite.findAll({ where: { user_id: res.body.id }, transaction }));
    expect(invites).toHaveLength(1);
    expect(invites[0]!.token_hash).not.toContain(res.body.invite_token);
  });

  it.each([
    ['an unknown field', { email: 'x@example.test', is_admin: true }, 'is_admin'],
    ['a password of 7 bytes', { email: 'x@example.test', password: 'short-7' }, 'password'],
    ['a password of 73 bytes', { email: 'x@example.test', password: 'p'.repeat(73) }, 'password'],
    ['a malformed email', { email: 'not-an-email' }, 'email'],
    ['an unknown role', { email: 'x@example.test', role: 'owner' }, 'role'],
  ])('when the body has %s, then it answers 422 naming the field and writes nothing', async (_label, body, field) => {
    const w = await seedWorld(h);
    const res = await h.http.post('/users').set(bearer(h.tokenOf(w.adminA))).send(body);
    expect(res.status).toBe(422);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(field);
    expect(await usersWithEmail('x@example.test')).toBe(0);
  });

  it('when anyone asks for role superadmin, then it answers 403', async () => {
    const w = await seedWorld(h);
    const res = await h.http.post('/users').set(bearer(h.tokenOf(w.superadmin))).send({ email: `${unique()}@example.test`, role: 'superadmin', org_id: w.orgA.id });
    expect(res.status).toBe(403);
  });

  it('when a superadmin names no org_id, then it answers 422', async () => {
    const w = await seedWorld(h);
    const res = await h.http.post('/users').set(bearer(h.tokenOf(w.superadmin))).send({ email: `${unique()}@example.test` });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual([{ path: 'org_id', message: 'org_id is required' }]);
  });
});

describe('invites and activation', () => {
  it('when an invite is accepted, then the user is active, can log in, and the same token cannot be used again', async () => {
    const w = await seedWorld(h);
    const { body } = await h.http.post(`/users/${w.pendingA.id}/invite`).set(bearer(h.tokenOf(w.adminA))).expect(201);
    expect(body).toEqual({ invite_token: expect.any(String), expires_at: expect.any(String) });
    const activated = await h.http.post('/users/activate').send({ token: body.invite_token, password: 'my-new-password' });
    expect(activated.status).toBe(200);
    expect(activated.body.token_type).toBe('bearer');
    expect((await h.http.get('/users/me').set(bearer(activated.body.access_token))).body.status).toBe('active');
    expect((await login(w.pendingA.email, 'my-new-password')).status).toBe(200);
    const again = await h.http.post('/users/activate').send({ token: body.invite_token, password: 'another-password' });
    expect(again.status).toBe(400);
    expect(again.body.code).toBe('invalid_invite');
  });

  it('when two activations of one token race, then exactly one succeeds', async () => {
    const w = await seedWorld(h);
    const { body } = await h.http.post(`/users/${w.pendingA.id}/invite`).set(bearer(h.tokenOf(w.adminA))).expect(201);
    const results = await Promise.all([1, 2, 3].map((i) => h.http.post('/users/activate').send({ token: body.invite_token, password: `password-${i}-ok` })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400]);
  });

  it('when the invite has expired, then activation answers 400 and the user stays pending', async () => {
    const w = await seedWorld(h);
    const { body } = await h.http.post(`/users/${w.pendingA.id}/invite`).set(bearer(h.tokenOf(w.adminA))).expect(201);
    await h.runtime.db.forOrg(w.orgA.id, (transaction) => Invite.update({ expires_at: new Date(Date.now() - 1000) }, { where: { user_id: w.pendingA.id }, transaction }));
    expect((await h.http.post('/users/activate').send({ token: body.invite_token, password: 'my-new-password' })).status).toBe(400);
    expect((await h.http.get(`/users/${w.pendingA.id}`).set(bearer(h.tokenOf(w.adminA)))).body.status).toBe('pending');
  });

  it('when an invite is reissued, then the earlier token no longer works and the new one does', async () => {
    const w = await seedWorld(h);
    const first = (await h.http.post(`/users/${w.pendingA.id}/invite`).set(bearer(h.tokenOf(w.adminA)))).body.invite_token;
    const second = (await h.http.post(`/users/${w.pendingA.id}/invite`).set(bearer(h.tokenOf(w.adminA)))).body.invite_token;
    expect((await h.http.post('/users/activate').send({ token: first, password: 'my-new-password' })).status).toBe(400);
    expect((await h.http.post('/users/activate').send({ token: second, password: 'my-new-password' })).status).toBe(200);
  });

  it('when the token is unknown, then activation answers 400; when the password is too short, 422', async () => {
    expect((await h.http.post('/users/activate').send({ token: 'nope', password: 'my-new-password' })).status).toBe(400);
    expect((await h.http.post('/users/activate').send({ token: 'nope', password: 'short' })).status).toBe(422);
  });
});

describe('PATCH /users/{id}', () => {
  it('when the last active admin would be demoted, suspended or deleted, then it answers 409 and nothing changes', async () => {
    const db = h.runtime.db;
    const org = await createOrg(db);
    const admin = await createUser(db, { orgId: org.id, role: 'admin' });
    const superadmin = await createUser(db, { role: 'superadmin' });
    const as = bearer(h.tokenOf(superadmin));
    for (const body of [{ role: 'user' }, { status: 'suspended' }]) {
      const res = await h.http.patch(`/users/${admin.id}`).set(as).send(body);
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('last_active_admin');
    }
    expect((await h.http.delete(`/users/${admin.id}`).set(as)).status).toBe(409);
    expect((await h.http.get(`/users/${admin.id}`).set(as)).body).toMatchObject({ role: 'admin', status: 'active' });
    expect((await h.http.get('/users/me').set(bearer(h.tokenOf(admin)))).status).toBe(200);
  });

  it('when one of two admins demotes the other, then it works, and demoting themself afterwards answers 409', async () => {
    const w = await seedWorld(h);
    const as = bearer(h.tokenOf(w.adminA));
    expect((await h.http.patch(`/users/${w.adminA2.id}`).set(as).send({ role: 'user' })).body.role).toBe('user');
    expect((await h.http.patch(`/users/${w.adminA.id}`).set(as).send({ role: 'user' })).status).toBe(409);
  });

  it("when a user's role changes, then their earlier token stops working at once", async () => {
    const w = await seedWorld(h);
    const token = (await login(w.userA.email)).body.access_token;
    expect((await h.http.get('/users/me').set(bearer(token))).status).toBe(200);
    await h.http.patch(`/users/${w.userA.id}`).set(bearer(h.tokenOf(w.adminA))).send({ role: 'admin' }).expect(200);
    expect((await h.http.get('/users/me').set(bearer(token))).status).toBe(401);
    const fresh = (await login(w.userA.email)).body.access_token;
    expect((await h.http.get('/users').set(bearer(fresh))).status).toBe(200);
  });

  it('when a profile field changes only, then the token keeps working', async () => {
    const w = await seedWorld(h);
    const token = (await login(w.userA.email)).body.access_token;
    await h.http.patch(`/users/${w.userA.id}`).set(bearer(h.tokenOf(w.adminA))).send({ department: 'R&D' }).expect(200);
    expect((await h.http.get('/users/me').set(bearer(token))).body.department).toBe('R&D');
  });

  it.each([['email'], ['org_id'], ['external_id'], ['password_hash']])('when the body sets %s, then it answers 422', async (field) => {
    const w = await seedWorld(h);
    const res = await h.http.patch(`/users/${w.userA.id}`).set(bearer(h.tokenOf(w.adminA))).send({ [field]: 'x' });
    expect(res.status).toBe(422);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual([field]);
  });
});

describe('DELETE /users/{id}', () => {
  it('when a user is deleted, then it answers 204, the user reads back inactive, and their token and login stop', async () => {
    const w = await seedWorld(h);
    const token = (await login(w.userA.email)).body.access_token;
    expect((await h.http.delete(`/users/${w.userA.id}`).set(bearer(h.tokenOf(w.adminA)))).status).toBe(204);
    expect((await h.http.get(`/users/${w.userA.id}`).set(bearer(h.tokenOf(w.adminA)))).body.status).toBe('inactive');
    expect((await h.http.get('/users/me').set(bearer(token))).status).toBe(401);
    expect((await login(w.userA.email)).status).toBe(401);
  });
});

describe('GET /users/me', () => {
  it.each(['userA', 'superadmin'] as const)('when %s reads their profile, then it is the same resource GET /users/{id} answers', async (who) => {
    const w = await seedWorld(h);
    const me = await h.http.get('/users/me').set(bearer(h.tokenOf(w[who])));
    expect(me.status).toBe(200);
    const byId = await h.http.get(`/users/${w[who].id}`).set(bearer(h.tokenOf(w.superadmin)));
    expect(me.body).toEqual(byId.body);
    expect(Object.keys(me.body).sort()).toEqual(
      ['created_at', 'department', 'email', 'external_id', 'first_name', 'id', 'last_name', 'org_id', 'role', 'status', 'title', 'updated_at'],
    );
    expect(me.body).toMatchObject({ id: w[who].id, org_id: w[who].org_id, created_at: w[who].created_at.toISOString() });
  });
});

describe('PATCH /users/me', () => {
  it('when the password is changed, then earlier tokens stop, the new password logs in and the old one does not', async () => {
    const w = await seedWorld(h);
    const token = (await login(w.userA.email)).body.access_token;
    const res = await h.http.patch('/users/me').set(bearer(token)).send({ current_password: DEFAULT_TEST_PASSWORD, new_password: 'a-brand-new-one' });
    expect(res.status).toBe(200);
    expect(res.body).not.toHaveProperty('password_hash');
    expect((await h.http.get('/users/me').set(bearer(token))).status).toBe(401);
    expect((await login(w.userA.email, 'a-brand-new-one')).status).toBe(200);
    expect((await login(w.userA.email)).status).toBe(401);
  });

  it('when the current password is wrong, then it answers 400 and the password stays', async () => {
    const w = await seedWorld(h);
    const res = await h.http.patch('/users/me').set(bearer(h.tokenOf(w.userA))).send({ current_password: 'not-my-password', new_password: 'a-brand-new-one' });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_current_password');
    expect((await login(w.userA.email)).status).toBe(200);
  });

  it.each([
    ['role', { role: 'admin' }],
    ['status', { status: 'active' }],
    ['email', { email: 'new@example.test' }],
    ['org_id', { org_id: '0b9c5a4e-5b8e-4c57-9a43-3f0d2b6f6a01' }],
    ['external_id', { external_id: 'x' }],
    ['new_password', { new_password: 'without-the-current' }],
  ])('when the body sets %s, then it answers 422', async (_field, body) => {
    const w = await seedWorld(h);
    expect((await h.http.patch('/users/me').set(bearer(h.tokenOf(w.userA))).send(body)).status).toBe(422);
  });
});

describe('tenant isolation and lists', () => {
  it.each(['get', 'patch', 'delete'] as const)('when the id in the path is malformed, then %s answers 404', async (method) => {
    const w = await seedWorld(h);
    const res = await h.http[method]('/users/not-a-uuid').set(bearer(h.tokenOf(w.superadmin))).send({});
    expect(res.status).toBe(404);
    expect((await h.http[method]('/orgs/123').set(bearer(h.tokenOf(w.superadmin))).send({})).status).toBe(404);
  });

  it("when an admin lists users, then no other organization's user is ever included", async () => {
    const w = await seedWorld(h);
    const res = await h.http.get('/users?limit=200').set(bearer(h.tokenOf(w.adminA)));
    expect(res.body.items.length).toBeGreaterThanOrEqual(4);
    expect(res.body.items.every((u: { org_id: string }) => u.org_id === w.orgA.id)).toBe(true);
    expect(JSON.stringify(res.body)).not.toContain('password_hash');
  });

  it("when an admin addresses another organization's user by id, then every verb answers 404", async () => {
    const w = await seedWorld(h);
    const as = bearer(h.tokenOf(w.adminA));
    expect((await h.http.get(`/users/${w.userB.id}`).set(as)).status).toBe(404);
    expect((await h.http.patch(`/users/${w.userB.id}`).set(as).send({ title: 'x' })).status).toBe(404);
    expect((await h.http.delete(`/users/${w.userB.id}`).set(as)).status).toBe(404);
    expect((await h.http.post(`/users/${w.pendingB.id}/invite`).set(as)).status).toBe(404);
    expect((await h.http.get(`/orgs/${w.orgB.id}`).set(as)).status).toBe(404);
  });

  it('when a list is paged with a small limit, then the pages cover every row once, newest first, and a forged cursor answers 422', async () => {
    const w = await seedWorld(h);
    const as = bearer(h.tokenOf(w.superadmin));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await h.http.get('/users').query({ org_id: w.orgA.id, limit: 2, ...(cursor ? { cursor } : {}) }).set(as);
      expect(res.status).toBe(200);
      const body = res.body as { items: { id: string }[]; next_cursor: string | null };
      seen.push(...body.items.map((u) => u.id));
      cursor = body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([w.pendingA.id, w.userA.id, w.adminA2.id, w.adminA.id]);
    expect((await h.http.get('/users?cursor=bm90LWEtY3Vyc29y').set(as)).status).toBe(422);
  });

  it('when a superadmin filters by status, role and q, then only matching users are listed', async () => {
    const w = await seedWorld(h);
    const as = bearer(h.tokenOf(w.superadmin));
    const pending = await h.http.get(`/users?org_id=${w.orgA.id}&status=pending`).set(as);
    expect(pending.body.items.map((u: { id: string }) => u.id)).toEqual([w.pendingA.id]);
    const admins = await h.http.get(`/users?org_id=${w.orgA.id}&role=admin`).set(as);
    expect(admins.body.items).toHaveLength(2);
    const byEmail = await h.http.get(`/users?q=${encodeURIComponent(w.userB.email.slice(0, 12))}`).set(as);
    expect(byEmail.body.items.map((u: { id: string }) => u.id)).toEqual([w.userB.id]);
  });
});

describe('GET /users?q=', () => {
  /** A member of `org` (a superadmin without one) with these names, set as a sync would (no API length limit). */
  async function named(org: { id: string } | null, firstName: string | null, lastName: string | null, email?: string): Promise<User> {
    const user = await createUser(h.runtime.db, org ? { orgId: org.id, email } : { role: 'superadmin', email });
    await h.runtime.db.asSystem('test fixture', (transaction) => User.update({ first_name: firstName, last_name: lastName }, { where: { id: user.id }, transaction }));
    return user;
  }
  /** The ids q finds, newest first, as `token`'s caller. */
  const found = async (token: string, q: string, query: Record<string, string | number> = {}) => {
    const res = await h.http.get('/users').query({ q, ...query }).set(bearer(token));
    expect(res.status).toBe(200);
    return (res.body as { items: { id: string }[] }).items.map((u) => u.id);
  };

  it('when q differs in case from an e-mail or a name, accented letters included, then it matches each of them, newest first', async () => {
    const w = await seedWorld(h);
    const tag = unique('case').replace('-', '');
    const byEmail = await named(w.orgA, 'Test', 'User', `${tag}-mail@example.test`);
    const byFirst = await named(w.orgA, `Zoë${tag}Ölund`, null);
    const byLast = await named(w.orgA, null, `McKay-${tag}`);
    const token = h.tokenOf(w.superadmin);
    expect(await found(token, tag.toUpperCase())).toEqual([byLast.id, byFirst.id, byEmail.id]);
    expect(await found(token, `zoË${tag}öLUND`)).toEqual([byFirst.id]);
    expect(await found(token, `MCKAY-${tag}`)).toEqual([byLast.id]);
  });

  it('when q contains %, _ or a backslash, then each matches only itself', async () => {
    const w = await seedWorld(h);
    const tag = unique('wild');
    const percent = await named(w.orgA, `${tag} 100%_off`, null);
    const backslash = await named(w.orgA, `${tag} a\\b`, null);
    await named(w.orgA, `${tag} 1000 offers`, `${tag} ab`);
    const token = h.tokenOf(w.superadmin);
    expect(await found(token, `${tag} 100%_off`)).toEqual([percent.id]);
    expect(await found(token, '%_')).toContain(percent.id);
    expect((await found(token, `${tag} 100%`)).length).toBe(1);
    expect(await found(token, `${tag} a\\b`)).toEqual([backslash.id]);
    expect(await found(token, `${tag} 1_00`)).toEqual([]);
  });

  it('when q spans the end of the first name and the start of the last name, with or without the field separator, then it matches nobody', async () => {
    const w = await seedWorld(h);
    const tag = unique('span').replace('-', '');
    await named(w.orgA, `${tag}First`, `Last${tag}`);
    const withSeparator = await named(w.orgA, `one\u001f${tag}`, null);
    const token = h.tokenOf(w.superadmin);
    expect(await found(token, `${tag}firstlast`)).toEqual([]);
    expect(await found(token, `first\u001flast${tag}`)).toEqual([]);
    expect(await found(token, `one\u001f${tag}`)).toEqual([withSeparator.id]);
  });

  it('when names are too long for the search index (1000 four-byte characters), then q still finds their user, and only in its organization', async () => {
    const w = await seedWorld(h);
    const tag = unique('long').replace('-', '');
    const long = await named(w.orgA, `${'😀'.repeat(999)}${tag}`, '😀'.repeat(1000));
    expect(await found(h.tokenOf(w.superadmin), tag.toUpperCase())).toEqual([long.id]);
    expect(await found(h.tokenOf(w.adminA), tag)).toEqual([long.id]);
    expect(await found(h.tokenOf(w.adminB), tag)).toEqual([]);
  });

  it("when an admin searches, then no other organization's user is found; a superadmin finds both, or one with org_id", async () => {
    const w = await seedWorld(h);
    const tag = unique('iso');
    const inA = await named(w.orgA, tag, null);
    const inB = await named(w.orgB, tag, null);
    expect(await found(h.tokenOf(w.adminA), tag)).toEqual([inA.id]);
    expect(await found(h.tokenOf(w.adminB), tag)).toEqual([inB.id]);
    expect(await found(h.tokenOf(w.superadmin), tag)).toEqual([inB.id, inA.id]);
    expect(await found(h.tokenOf(w.superadmin), tag, { org_id: w.orgA.id })).toEqual([inA.id]);
  });

  it('when a search is paged with a small limit and combined with status and role, then the pages cover every match once, newest first', async () => {
    const w = await seedWorld(h);
    const tag = unique('page');
    const matches = [];
    for (let i = 0; i < 5; i++) matches.push(await named(w.orgA, `${tag}-${i}`, null));
    await named(w.orgA, 'other', null);
    const token = h.tokenOf(w.superadmin);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await h.http.get('/users').query({ q: tag, limit: 2, ...(cursor ? { cursor } : {}) }).set(bearer(token));
      const body = res.body as { items: { id: string }[]; next_cursor: string | null };
      seen.push(...body.items.map((u) => u.id));
      cursor = body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(matches.map((u) => u.id).reverse());
    expect(await found(token, tag, { status: 'active', role: 'user' })).toEqual(matches.map((u) => u.id).reverse());
    expect(await found(token, tag, { status: 'suspended' })).toEqual([]);
  });
});
