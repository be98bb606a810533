import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { createTokenSigner, SecretBox } from '@saas/auth';
import type { IdentityServiceConfig } from '@saas/config';
import { AuditLog, Database, Organization, SsoConnection, User } from '@saas/db';
import { issueInvite, syncExternalUsers } from '@saas/identity';
import { createOrg, createUser, DEFAULT_TEST_PASSWORD, freePort, testConfig, unique } from '@saas/testing';
import { callCallback, signInThroughIdp, startIdentityProcess, startIdentityProvider, type IdpAccount, type RunningProcess } from './sso-helpers';

// identity-service runs in a child process (see sso-helpers.ts); the test reads and arranges the same database and Redis.
const config = testConfig<IdentityServiceConfig>('identity-service');
const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 4 });
const redis = new Redis(config.REDIS_URL);
const tokenOf = (user: User) => createTokenSigner(config).sign(user).access_token;
const stateKey = (state: string) => `${config.REDIS_KEY_PREFIX}sso:state:${state}`;

const CLIENT_ID = 'saas-identity-test';
const CLIENT_SECRET = randomBytes(24).toString('base64url');
const BROWSER_APP = 'http://app.example.test/signed-in';

let identity: RunningProcess;
let idp: RunningProcess;
/** Publishes a key other than the one it signs ID tokens with. */
let forgingIdp: RunningProcess;

beforeAll(async () => {
  identity = await startIdentityProcess({ SSO_ALLOWED_REDIRECT_URIS: BROWSER_APP });
  const client = { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uri: `${identity.url}/auth/sso/callback` };
  [idp, forgingIdp] = await Promise.all([startIdentityProvider({ client }), startIdentityProvider({ client, forgedJwks: true })]);
}, 60000);
afterAll(async () => {
  await Promise.all([identity, idp, forgingIdp].map((running) => running?.stop()));
  redis.disconnect();
  await db.close();
});

async function call(base: string, method: string, path: string, { token, body }: { token?: string; body?: unknown } = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), body: (text ? JSON.parse(text) : {}) as Record<string, unknown> & { errors?: { path: string }[] } };
}
const api = (method: string, path: string, options?: { token?: string; body?: unknown }) => call(identity.url, method, path, options);

const reload = (user: User) => db.asSystem('test assertion', (transaction) => User.findByPk(user.id, { rejectOnEmpty: true, transaction }));
const auditOf = (orgId: string, action: string) =>
  db.asSystem('test assertion', (transaction) => AuditLog.findAll({ where: { org_id: orgId, action }, order: [['seq', 'ASC']], transaction }));
const usersOf = (orgId: string) => db.asSystem('test assertion', (transaction) => User.findAll({ where: { org_id: orgId }, order: [['email', 'ASC']], transaction }));
/** What a refused login must leave untouched. */
const stateOf = ({ id, email, status, role, sso_subject, password_hash }: User) => ({ id, email, status, role, sso_subject, password_hash });

interface SsoOrg {
  org: Organization;
  admin: User;
  domain: string;
  /** An account at the identity provider with an email of the organization's domain (verified unless said otherwise). */
  account(localPart: string, claims?: Partial<IdpAccount>): IdpAccount;
}

/** A new organization with an admin and a connection to the test provider, configured through the API. */
async function ssoOrg(settings: Record<string, unknown> = {}, issuer = idp.url): Promise<SsoOrg> {
  const org = await createOrg(db);
  const admin = await createUser(db, { orgId: org.id, role: 'admin' });
  const domain = `${unique('corp')}.example.test`;
  const res = await api('PUT', `/orgs/${org.id}/sso`, {
    token: tokenOf(admin),
    body: { issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, allowed_domains: [domain], ...settings },
  });
  expect(res.status).toBe(200);
  return { org, admin, domain, account: (localPart, claims = {}) => ({ sub: unique('sub'), email: `${localPart}@${domain}`, email_verified: true, ...claims }) };
}

const expectRefused = (attempt: { status: number; body: Record<string, unknown> }) =>
  expect({ status: attempt.status, code: attempt.body['code'] }).toEqual({ status: 401, code: 'sso_login_failed' });

describe('PUT/GET/DELETE /orgs/{id}/sso', () => {
  it('when an admin configures their organization, then the answer and reads never hold the secret, which is stored encrypted; a PUT without it keeps it; DELETE removes the connection', async () => {
    const { org, admin, domain } = await ssoOrg({ jit_provisioning: true });
    const token = tokenOf(admin);
    const read = await api('GET', `/orgs/${org.id}/sso`, { token });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(
      expect.objectContaining({ org_id: org.id, issuer: idp.url, client_id: CLIENT_ID, allowed_domains: [domain], jit_provisioning: true, enforce_sso: false }),
    );
    expect(JSON.stringify(read.body)).not.toContain(CLIENT_SECRET);
    expect(Object.keys(read.body).some((key) => key.includes('secret'))).toBe(false);

    const storedCiphertext = async () =>
      (await db.asSystem('test assertion', (transaction) => SsoConnection.findByPk(org.id, { rejectOnEmpty: true, transaction }))).client_secret_ciphertext;
    const box = new SecretBox(config.INTEGRATION_SECRETS_KEY);
    const sealed = await storedCiphertext();
    expect(sealed).not.toContain(CLIENT_SECRET);
    expect(box.open(sealed, org.id)).toBe(CLIENT_SECRET);
    expect(() => box.open(sealed, randomBytes(16).toString('hex'))).toThrow();

    const kept = await api('PUT', `/orgs/${org.id}/sso`, { token, body: { issuer: idp.url, client_id: CLIENT_ID, allowed_domains: [domain, 'other.example.test'] } });
    expect({ status: kept.status, domains: kept.body['allowed_domains'], jit: kept.body['jit_provisioning'] }).toEqual({ status: 200, domains: [domain, 'other.example.test'], jit: false });
    expect(box.open(await storedCiphertext(), org.id)).toBe(CLIENT_SECRET);
    const configured = await auditOf(org.id, 'org.sso.configured');
    expect(configured.map((entry) => entry.metadata['secret_changed'])).toEqual([true, false]);
    expect(JSON.stringify(configured.map((entry) => entry.metadata))).not.toContain(CLIENT_SECRET);

    expect((await api('DELETE', `/orgs/${org.id}/sso`, { token })).status).toBe(204);
    expect((await api('GET', `/orgs/${org.id}/sso`, { token })).status).toBe(404);
    expect((await api('DELETE', `/orgs/${org.id}/sso`, { token })).status).toBe(404);
    expect(await auditOf(org.id, 'org.sso.removed')).toHaveLength(1);
  });

  it("when another organization's admin asks, then 404; a user, 403; a superadmin reads and configures any organization", async () => {
    const { org } = await ssoOrg();
    const other = await createOrg(db);
    const otherAdmin = await createUser(db, { orgId: other.id, role: 'admin' });
    const member = await createUser(db, { orgId: org.id });
    const superadmin = await createUser(db, { role: 'superadmin' });
    const body = { issuer: idp.url, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, allowed_domains: ['example.test'] };
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const options = method === 'PUT' ? { body } : {};
      expect({ method, status: (await api(method, `/orgs/${org.id}/sso`, { ...options, token: tokenOf(otherAdmin) })).status }).toEqual({ method, status: 404 });
      expect({ method, status: (await api(method, `/orgs/${org.id}/sso`, { ...options, token: tokenOf(member) })).status }).toEqual({ method, status: 403 });
    }
    expect((await api('GET', `/orgs/${org.id}/sso`, { token: tokenOf(superadmin) })).status).toBe(200);
    expect((await api('PUT', `/orgs/${other.id}/sso`, { token: tokenOf(superadmin), body })).status).toBe(200);
  });

  it('when the first PUT has no client_secret, or invalid domains, then 422 and nothing is stored', async () => {
    const org = await createOrg(db);
    const token = tokenOf(await createUser(db, { orgId: org.id, role: 'admin' }));
    const base = { issuer: idp.url, client_id: CLIENT_ID, allowed_domains: ['example.test'] };
    const noSecret = await api('PUT', `/orgs/${org.id}/sso`, { token, body: base });
    expect({ status: noSecret.status, path: noSecret.body['errors']?.[0]?.path }).toEqual({ status: 422, path: 'client_secret' });
    for (const allowed_domains of [[], ['not a domain'], Array.from({ length: 21 }, (_, i) => `d${i}.example.test`)]) {
      expect((await api('PUT', `/orgs/${org.id}/sso`, { token, body: { ...base, client_secret: CLIENT_SECRET, allowed_domains } })).status).toBe(422);
    }
    expect((await api('GET', `/orgs/${org.id}/sso`, { token })).status).toBe(404);
  });

  it("when the issuer's discovery document cannot be fetched or is not one, then 422 sso_discovery_failed", async () => {
    const org = await createOrg(db);
    const token = tokenOf(await createUser(db, { orgId: org.id, role: 'admin' }));
    // nothing listens there; identity-service itself serves no discovery document
    for (const issuer of [`http://127.0.0.1:${await freePort()}`, identity.url]) {
      const res = await api('PUT', `/orgs/${org.id}/sso`, { token, body: { issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, allowed_domains: ['example.test'] } });
      expect({ issuer, status: res.status, code: res.body['code'], problem: res.contentType }).toEqual({
        issuer,
        status: 422,
        code: 'sso_discovery_failed',
        problem: expect.stringContaining('application/problem+json'),
      });
    }
  });

  describe('with SSO_ALLOW_PRIVATE_ISSUERS=false', () => {
    let strict: RunningProcess;
    beforeAll(async () => {
      strict = await startIdentityProcess({ SSO_ALLOW_PRIVATE_ISSUERS: false });
    }, 40000);
    afterAll(() => strict.stop());

    it('when an issuer is on a loopback, private or link-local address, then saving it answers 422 sso_issuer_not_allowed and using a stored one fails', async () => {
      const org = await createOrg(db);
      const token = tokenOf(await createUser(db, { orgId: org.id, role: 'admin' }));
      for (const issuer of [idp.url, 'http://localhost:9400', 'http://[::1]:9400', 'http://10.1.2.3', 'http://169.254.169.254', 'http://[::ffff:127.0.0.1]:9400']) {
        const res = await call(strict.url, 'PUT', `/orgs/${org.id}/sso`, { token, body: { issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, allowed_domains: ['example.test'] } });
        expect({ issuer, status: res.status, code: res.body['code'] }).toEqual({ issuer, status: 422, code: 'sso_issuer_not_allowed' });
      }
      // saved while allowed (or before the address changed): refused at use as well
      const { org: configured } = await ssoOrg();
      const start = await fetch(`${strict.url}/auth/sso/${configured.slug}`, { redirect: 'manual' });
      expect(start.status).toBe(503);
    });
  });
});

describe('GET /auth/sso/{org_slug} → the identity provider → GET /auth/sso/callback', () => {
  it('when a pending user created by the user directory signs in, then they are bound to the identity, become active (audited method sso) and get a token; later logins find them by sub', async () => {
    const sso = await ssoOrg();
    const account = sso.account(unique('hired'));
    const externalId = unique('emp');
    await db.forOrg(sso.org.id, (tx) =>
      syncExternalUsers(tx, [{ orgId: sso.org.id, externalId, kind: 'created', occurredAt: new Date(), profile: { email: account.email } }]),
    );
    const [pending] = await usersOf(sso.org.id).then((users) => users.filter((u) => u.external_id === externalId));
    expect({ status: pending!.status, password: pending!.password_hash }).toEqual({ status: 'pending', password: null });

    const first = await signInThroughIdp(identity.url, sso.org.slug, account);
    expect(first.status).toBe(200);
    const me = await api('GET', '/users/me', { token: first.body['access_token'] as string });
    expect({ id: me.body['id'], status: me.body['status'] }).toEqual({ id: pending!.id, status: 'active' });
    expect((await reload(pending!)).sso_subject).toBe(account.sub);
    expect((await auditOf(sso.org.id, 'user.activated')).map((e) => [e.target_id, e.metadata['method']])).toEqual([[pending!.id, 'sso']]);

    // the email changed at the provider (same domain): the bound sub still decides who signs in
    const again = await signInThroughIdp(identity.url, sso.org.slug, { ...account, email: `renamed-${account.email}` });
    expect((await api('GET', '/users/me', { token: again.body['access_token'] as string })).body['id']).toBe(pending!.id);
    expect((await auditOf(sso.org.id, 'user.sso_login')).map((e) => [e.target_id, e.metadata['bound']])).toEqual([
      [pending!.id, true],
      [pending!.id, false],
    ]);
  });

  it('when an active user signs in with their email in another case, then they are bound and signed in, their password kept', async () => {
    const sso = await ssoOrg();
    const local = unique('ann');
    const user = await createUser(db, { orgId: sso.org.id, email: `${local}@${sso.domain}` });
    const account = sso.account(local.toUpperCase());
    const res = await signInThroughIdp(identity.url, sso.org.slug, account);
    expect(res.status).toBe(200);
    expect((await api('GET', '/users/me', { token: res.body['access_token'] as string })).body['id']).toBe(user.id);
    const after = await reload(user);
    expect({ subject: after.sso_subject, password: after.password_hash }).toEqual({ subject: account.sub, password: user.password_hash });
  });

  it('when nobody has the email, then without jit_provisioning the login is refused and with it an active user is created (audited method sso)', async () => {
    const closed = await ssoOrg();
    expectRefused(await signInThroughIdp(identity.url, closed.org.slug, closed.account(unique('new'))));
    expect((await usersOf(closed.org.id)).map((u) => u.id)).toEqual([closed.admin.id]);

    const open = await ssoOrg({ jit_provisioning: true });
    const account = open.account(unique('new'), { given_name: 'Ada', family_name: 'Lovelace' });
    const res = await signInThroughIdp(identity.url, open.org.slug, account);
    expect(res.status).toBe(200);
    const me = await api('GET', '/users/me', { token: res.body['access_token'] as string });
    expect(me.body).toEqual(expect.objectContaining({ email: account.email, role: 'user', status: 'active', org_id: open.org.id, first_name: 'Ada', last_name: 'Lovelace' }));
    expect((await auditOf(open.org.id, 'user.created')).map((e) => [e.target_id, e.metadata['method']])).toEqual([[me.body['id'], 'sso']]);
  });

  it('when the email is unverified or of another domain, belongs to another organization, a suspended or deleted user, or a user bound to another identity, or the organization is suspended, then 401 sso_login_failed and nothing changes', async () => {
    const sso = await ssoOrg({ jit_provisioning: true });
    const elsewhere = await createOrg(db);
    const inOrg = (status: 'suspended' | 'inactive') => createUser(db, { orgId: sso.org.id, status, email: `${unique(status)}@${sso.domain}` });
    const suspended = await inOrg('suspended');
    const deleted = await inOrg('inactive');
    const otherOrgs = await createUser(db, { orgId: elsewhere.id, email: `${unique('theirs')}@${sso.domain}` });
    const bound = await createUser(db, { orgId: sso.org.id, email: `${unique('bound')}@${sso.domain}` });
    await db.asSystem('test fixture', (transaction) => User.update({ sso_subject: unique('sub') }, { where: { id: bound.id }, transaction }));
    const watched = [suspended, deleted, otherOrgs, bound];
    const before = await Promise.all(watched.map(reload)).then((users) => users.map(stateOf));
    const usersBefore = (await usersOf(sso.org.id)).length;

    const local = (user: User) => user.email.split('@')[0]!;
    const cases: Record<string, IdpAccount> = {
      unverified: sso.account(unique('unverified'), { email_verified: false }),
      other_domain: { ...sso.account('x'), email: `${unique('x')}@elsewhere.example.test` },
      other_organizations_email: sso.account(local(otherOrgs)),
      suspended_user: sso.account(local(suspended)),
      deleted_user: sso.account(local(deleted)),
      bound_to_another_identity: sso.account(local(bound)),
    };
    for (const [label, account] of Object.entries(cases)) {
      const res = await signInThroughIdp(identity.url, sso.org.slug, account);
      expect({ label, status: res.status, code: res.body['code'] }).toEqual({ label, status: 401, code: 'sso_login_failed' });
    }
    expect(await Promise.all(watched.map(reload)).then((users) => users.map(stateOf))).toEqual(before);
    expect(await usersOf(sso.org.id)).toHaveLength(usersBefore);
    expect((await auditOf(sso.org.id, 'user.sso_login_failed')).map((e) => e.metadata['reason'])).toEqual([
      'email_not_verified',
      'email_domain_not_allowed',
      'email_of_another_account',
      'user_not_active',
      'user_not_active',
      'email_bound_to_another_identity',
    ]);

    const member = await createUser(db, { orgId: sso.org.id, email: `${unique('member')}@${sso.domain}` });
    await db.asSystem('test fixture', (transaction) => Organization.update({ status: 'suspended' }, { where: { id: sso.org.id }, transaction }));
    expectRefused(await signInThroughIdp(identity.url, sso.org.slug, sso.account(local(member))));
    expect((await reload(member)).sso_subject).toBeNull();
  });

  it('when the state is replayed, expired or its nonce does not match the ID token, then 401 sso_login_failed and the pending user stays pending', async () => {
    const sso = await ssoOrg();
    const pending = await createUser(db, { orgId: sso.org.id, status: 'pending', password: null, email: `${unique('p')}@${sso.domain}` });
    const account = sso.account(pending.email.split('@')[0]!);

    const expired = await signInThroughIdp(identity.url, sso.org.slug, account, { beforeCallback: async (state) => void (await redis.del(stateKey(state))) });
    expectRefused(expired);
    const wrongNonce = await signInThroughIdp(identity.url, sso.org.slug, account, {
      beforeCallback: async (state) => {
        const stored = JSON.parse((await redis.get(stateKey(state)))!) as Record<string, unknown>;
        await redis.set(stateKey(state), JSON.stringify({ ...stored, nonce: 'another-nonce' }), 'KEEPTTL');
      },
    });
    expectRefused(wrongNonce);
    expect(stateOf(await reload(pending))).toEqual(stateOf(pending));
    // the expired state names no organization; the nonce mismatch is the ID token's
    expect((await auditOf(sso.org.id, 'user.sso_login_failed')).map((e) => e.metadata['reason'])).toEqual(['id_token_rejected']);

    const ok = await signInThroughIdp(identity.url, sso.org.slug, account);
    expect(ok.status).toBe(200);
    expectRefused(await callCallback(ok.callbackUrl));
  });

  it('when the ID token does not verify against the issuer JWKS, then 401 sso_login_failed', async () => {
    const sso = await ssoOrg({ jit_provisioning: true }, forgingIdp.url);
    expectRefused(await signInThroughIdp(identity.url, sso.org.slug, sso.account(unique('forged'))));
    expect(await usersOf(sso.org.id)).toHaveLength(1);
    expect((await auditOf(sso.org.id, 'user.sso_login_failed')).map((e) => e.metadata['reason'])).toEqual(['id_token_rejected']);
  });

  it('when a redirect_uri is given, then only an allowed one is accepted, the callback redirects there with a one-time code, and POST /auth/sso/token redeems it once', async () => {
    const sso = await ssoOrg({ jit_provisioning: true });
    expect((await fetch(`${identity.url}/auth/sso/${sso.org.slug}?redirect_uri=${encodeURIComponent('https://evil.example/')}`, { redirect: 'manual' })).status).toBe(400);

    const res = await signInThroughIdp(identity.url, sso.org.slug, sso.account(unique('spa')), { redirectUri: BROWSER_APP });
    expect(res.status).toBe(302);
    const location = new URL(res.location!);
    expect(`${location.origin}${location.pathname}`).toBe(BROWSER_APP);
    const code = location.searchParams.get('code')!;
    const redeemed = await api('POST', '/auth/sso/token', { body: { code } });
    expect(redeemed.status).toBe(200);
    expect((await api('GET', '/users/me', { token: redeemed.body['access_token'] as string })).body['status']).toBe('active');
    const reused = await api('POST', '/auth/sso/token', { body: { code } });
    expect({ status: reused.status, code: reused.body['code'] }).toEqual({ status: 401, code: 'sso_login_failed' });
  });

  it('when the organization is unknown or has no connection, then 404', async () => {
    const bare = await createOrg(db);
    for (const slug of [unique('nobody'), bare.slug]) {
      expect((await fetch(`${identity.url}/auth/sso/${slug}`, { redirect: 'manual' })).status).toBe(404);
    }
  });
});

describe('enforce_sso', () => {
  it("when the organization enforces SSO, then its users' password logins and invite activations answer 401 sso_required (the invite stays usable), while SSO works and superadmins log in", async () => {
    const sso = await ssoOrg({ enforce_sso: true });
    const member = await createUser(db, { orgId: sso.org.id, email: `${unique('m')}@${sso.domain}` });
    const login = (email: string, password: string) => api('POST', '/users/login', { body: { email, password } });

    const refused = await login(member.email, DEFAULT_TEST_PASSWORD);
    expect({ status: refused.status, code: refused.body['code'] }).toEqual({ status: 401, code: 'sso_required' });
    // a wrong password says nothing about SSO
    expect((await login(member.email, 'not-the-password')).body['code']).toBe('invalid_credentials');
    const superadmin = await createUser(db, { role: 'superadmin' });
    expect((await login(superadmin.email, DEFAULT_TEST_PASSWORD)).status).toBe(200);

    const invited = await createUser(db, { orgId: sso.org.id, status: 'pending', password: null, email: `${unique('i')}@${sso.domain}` });
    const { invite_token: token } = await db.forOrg(sso.org.id, (tx) => issueInvite(tx, invited, 72, null));
    const activation = await api('POST', '/users/activate', { body: { token, password: 'a-brand-new-password' } });
    expect({ status: activation.status, code: activation.body['code'] }).toEqual({ status: 401, code: 'sso_required' });
    expect((await reload(invited)).status).toBe('pending');

    expect((await signInThroughIdp(identity.url, sso.org.slug, sso.account(member.email.split('@')[0]!))).status).toBe(200);

    await api('PUT', `/orgs/${sso.org.id}/sso`, { token: tokenOf(sso.admin), body: { issuer: idp.url, client_id: CLIENT_ID, allowed_domains: [sso.domain] } });
    expect((await api('POST', '/users/activate', { body: { token, password: 'a-brand-new-password' } })).status).toBe(200);
    expect((await login(member.email, DEFAULT_TEST_PASSWORD)).status).toBe(200);
  });
});
