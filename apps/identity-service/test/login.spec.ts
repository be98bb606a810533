import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Organization, User } from '@saas/db';
import { auditEntries, bearer, createOrg, createUser, DEFAULT_TEST_PASSWORD, startIdentity, unique, type IdentityHarness } from './harness';

let h: IdentityHarness;
beforeAll(async () => {
  h = await startIdentity();
});
afterAll(() => h.close());

const login = (email: string, password: string, ip?: string) => {
  const req = h.http.post('/users/login');
  return (ip ? req.set('X-Forwarded-For', ip) : req).send({ email, password });
};
const randomIp = () => `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
/** A /64 of its own per call (documentation prefix 2001:db8::/32), as `2001:db8:xxxx:xxxx`. */
const randomIpv6Prefix = () => `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}`;
const withoutRequestId = (body: Record<string, unknown>) => ({ ...body, request_id: undefined });

describe('POST /users/login', () => {
  it('when the email and password are right, then it answers a bearer token that opens /users/me', async () => {
    const org = await createOrg(h.runtime.db);
    const user = await createUser(h.runtime.db, { orgId: org.id });
    const res = await login(user.email, DEFAULT_TEST_PASSWORD);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: h.config.ACCESS_TOKEN_TTL_SECONDS });
    const me = await h.http.get('/users/me').set(bearer(res.body.access_token));
    expect(me.body).toMatchObject({ id: user.id, email: user.email });
    expect(me.body).not.toHaveProperty('password_hash');
  });

  it('when the email differs only in case, then the login still succeeds', async () => {
    const org = await createOrg(h.runtime.db);
    const user = await createUser(h.runtime.db, { orgId: org.id });
    expect((await login(user.email.toUpperCase(), DEFAULT_TEST_PASSWORD)).status).toBe(200);
  });

  it('when the credentials come as an OAuth2 password-grant form, then it answers a token', async () => {
    const org = await createOrg(h.runtime.db);
    const user = await createUser(h.runtime.db, { orgId: org.id });
    const res = await h.http.post('/users/login').type('form').send({ username: user.email, password: DEFAULT_TEST_PASSWORD, grant_type: 'password' });
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe('bearer');
  });

  it('when the form or the JSON body has an unknown field, then it answers 422 naming it', async () => {
    const form = await h.http.post('/users/login').type('form').send({ username: 'a@b.test', password: 'whatever-1', role: 'admin' });
    expect(form.status).toBe(422);
    expect(form.body.errors).toEqual([{ path: 'role', message: expect.stringContaining('not allowed') }]);
    const json = await h.http.post('/users/login').send({ email: 'a@b.test', password: 'whatever-1', remember: true });
    expect(json.status).toBe(422);
    expect(json.body.errors.map((e: { path: string }) => e.path)).toEqual(['remember']);
  });

  it('when the password is longer than 72 bytes (even under 72 characters), then it answers 422 rather than truncating', async () => {
    const res = await login('someone@example.test', 'é'.repeat(37));
    expect(res.status).toBe(422);
    expect(res.body.errors[0].path).toBe('password');
  });

  it('when any credential is wrong or the account cannot log in, then every case answers the same 401 and is audited', async () => {
    const db = h.runtime.db;
    const org = await createOrg(db);
    const suspendedOrg = await createOrg(db, { status: 'suspended' });
    const cases = {
      unknown_email: `${unique('nobody')}@example.test`,
      wrong_password: (await createUser(db, { orgId: org.id })).email,
      no_password: (await createUser(db, { orgId: org.id, status: 'pending', password: null })).email,
      suspended_user: (await createUser(db, { orgId: org.id, status: 'suspended' })).email,
      inactive_user: (await createUser(db, { orgId: org.id, status: 'inactive' })).email,
      organization_suspended: (await createUser(db, { orgId: suspendedOrg.id })).email,
    };
    const bodies = [];
    for (const [label, email] of Object.entries(cases)) {
      const res = await login(email, label === 'wrong_password' ? 'not-the-password' : DEFAULT_TEST_PASSWORD);
      expect({ label, status: res.status, auth: res.headers['www-authenticate'] }).toEqual({ label, status: 401, auth: 'Bearer' });
      bodies.push(withoutRequestId(res.body));
    }
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
    expect(bodies[0]).toMatchObject({ status: 401, code: 'invalid_credentials' });
    const failures = await auditEntries(h, { action: 'user.login_failed' });
    for (const email of Object.values(cases)) expect(failures.some((e) => e.metadata['email'] === email)).toBe(true);
  });

  it('when an account has had 5 failed logins, then the next attempt answers 429 with Retry-After even with the right password', async () => {
    const org = await createOrg(h.runtime.db);
    const user = await createUser(h.runtime.db, { orgId: org.id });
    for (let i = 0; i < 5; i += 1) expect((await login(user.email, 'wrong-password', randomIp())).status).toBe(401);
    const blocked = await login(user.email, DEFAULT_TEST_PASSWORD, randomIp());
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(blocked.headers['retry-after'])).toBeLessThanOrEqual(h.config.LOGIN_FAILURE_WINDOW_SECONDS);
  });

  it('when parallel wrong guesses race against the limit, then no more than 5 of them are checked', async () => {
    const org = await createOrg(h.runtime.db);
    const user = await createUser(h.runtime.db, { orgId: org.id });
    const results = await Promise.all(Array.from({ length: 12 }, () => login(user.email, 'wrong-password', randomIp())));
    expect(results.filter((r) => r.status === 401)).toHaveLength(5);
    expect(results.filter((r) => r.status === 429)).toHaveLength(7);
  });

  it('when logins succeed repeatedly, then they never count towards the limit', async () => {
    const org = await createOrg(h.runtime.db);
    const user = await createUser(h.runtime.db, { orgId: org.id });
    for (let i = 0; i < 8; i += 1) expect((await login(user.email, DEFAULT_TEST_PASSWORD)).status).toBe(200);
  });
});

describe('POST /users/login throttling per address', () => {
  let small: IdentityHarness;
  beforeAll(async () => {
    small = await startIdentity({ LOGIN_MAX_FAILURES_PER_IP: 3 });
  });
  afterAll(() => small.close());

  it('when one address fails on several accounts beyond its limit, then it answers 429 while another address still gets through', async () => {
    const ip = randomIp();
    const attempt = (email: string, from: string) => small.http.post('/users/login').set('X-Forwarded-For', from).send({ email, password: 'wrong-password' });
    for (let i = 0; i < 3; i += 1) expect((await attempt(`${unique('spray')}@example.test`, ip)).status).toBe(401);
    expect((await attempt(`${unique('spray')}@example.test`, ip)).status).toBe(429);
    expect((await attempt(`${unique('spray')}@example.test`, randomIp())).status).toBe(401);
  });

  it('when addresses of one IPv6 /64 fail on several accounts, then they share one budget, while an address of another /64 has its own', async () => {
    const attempt = (from: string) => small.http.post('/users/login').set('X-Forwarded-For', from).send({ email: `${unique('spray')}@example.test`, password: 'wrong-password' });
    const network = randomIpv6Prefix();
    for (const host of ['::1', ':a:b:c:d', ':ffff:ffff:ffff:ffff']) expect((await attempt(`${network}${host}`)).status).toBe(401);
    expect((await attempt(`${network}::2`)).status).toBe(429);
    expect((await attempt(`${randomIpv6Prefix()}::2`)).status).toBe(401);
  });
});

describe('POST /users/login timing', () => {
  let slow: IdentityHarness;
  beforeAll(async () => {
    slow = await startIdentity({ BCRYPT_COST: 10, LOGIN_MAX_FAILURES_PER_ACCOUNT: 1000, LOGIN_MAX_FAILURES_PER_IP: 1000 });
  });
  afterAll(() => slow.close());

  it('when the email is unknown, then the answer takes about as long as for a wrong password (a bcrypt comparison either way)', async () => {
    const org = await createOrg(slow.runtime.db);
    const user = await createUser(slow.runtime.db, { orgId: org.id });
    await slow.runtime.db.asSystem('test: a cost-10 hash like production', async (transaction) =>
      User.update({ password_hash: await import('bcrypt').then((b) => b.hash(DEFAULT_TEST_PASSWORD, 10)) }, { where: { id: user.id }, transaction }),
    );
    const time = async (email: string) => {
      const started = performance.now();
      const res = await slow.http.post('/users/login').send({ email, password: 'wrong-password' });
      expect(res.status).toBe(401);
      return performance.now() - started;
    };
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      unknown.push(await time(`${unique('ghost')}@example.test`));
      wrong.push(await time(user.email));
    }
    const ratio = median(unknown) / median(wrong);
    expect(ratio).toBeGreaterThan(0.6);
    expect(ratio).toBeLessThan(1.6);
  });
});

describe('POST /users/login without Redis', () => {
  let offline: IdentityHarness;
  beforeAll(async () => {
    offline = await startIdentity({ REDIS_URL: 'redis://127.0.0.1:1' });
  });
  afterAll(() => offline.close());

  it('when Redis is unreachable, then logins fail closed with 503 and Retry-After', async () => {
    const org = await createOrg(offline.runtime.db);
    const user = await createUser(offline.runtime.db, { orgId: org.id });
    const res = await offline.http.post('/users/login').send({ email: user.email, password: DEFAULT_TEST_PASSWORD });
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
  });
});

describe('organization suspension', () => {
  it("when an organization is suspended, then its members' tokens and logins stop at once, and work again after reactivation", async () => {
    const db = h.runtime.db;
    const org = await createOrg(db);
    const user = await createUser(db, { orgId: org.id });
    const superadmin = await createUser(db, { role: 'superadmin' });
    const token = (await login(user.email, DEFAULT_TEST_PASSWORD)).body.access_token;
    expect((await h.http.get('/users/me').set(bearer(token))).status).toBe(200);
    const suspend = await h.http.patch(`/orgs/${org.id}`).set(bearer(h.tokenOf(superadmin))).send({ status: 'suspended' });
    expect(suspend.body.status).toBe('suspended');
    expect((await h.http.get('/users/me').set(bearer(token))).status).toBe(401);
    expect((await login(user.email, DEFAULT_TEST_PASSWORD)).status).toBe(401);
    await h.http.patch(`/orgs/${org.id}`).set(bearer(h.tokenOf(superadmin))).send({ status: 'active' }).expect(200);
    expect((await h.http.get('/users/me').set(bearer(token))).status).toBe(200);
    const reloaded = await db.asSystem('test assertion', (transaction) => Organization.findByPk(org.id, { transaction }));
    expect(reloaded!.status).toBe('active');
  });
});
