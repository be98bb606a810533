import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import bcrypt from 'bcrypt';
import { User, type Organization } from '@saas/db';
import { issueInvite, revokeInvites } from '@saas/identity';
import { bearer, createOrg, createUser, startIdentity, type IdentityHarness } from './harness';

const NEW_PASSWORD = 'my-new-password';
const randomIp = () => `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
/** A /64 of its own per call (documentation prefix 2001:db8::/32), as `2001:db8:xxxx:xxxx`. */
const randomIpv6Prefix = () => `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}`;

const activate = (on: IdentityHarness, token: string, ip: string) =>
  on.http.post('/users/activate').set('X-Forwarded-For', ip).send({ token, password: NEW_PASSWORD });

/** A pending member of a new organization and a valid invite token for them. */
async function invited(on: IdentityHarness, ttlHours = 72): Promise<{ org: Organization; user: User; token: string }> {
  const { db } = on.runtime;
  const org = await createOrg(db);
  const user = await createUser(db, { orgId: org.id, status: 'pending', password: null });
  const { invite_token: token } = await db.forOrg(org.id, (tx) => issueInvite(tx, user, ttlHours, null));
  return { org, user, token };
}

/**
 * `work`'s result and how many bcrypt hashes it computed: calls of `hash` and `hashSync` (each generates its salt
 * through `genSalt`/`genSaltSync`, which cost no hashing of their own and are not counted).
 */
async function countHashing<T>(work: () => Promise<T>): Promise<{ result: T; hashes: number }> {
  const spies = [jest.spyOn(bcrypt, 'hash'), jest.spyOn(bcrypt, 'hashSync')];
  try {
    const result = await work();
    return { result, hashes: spies.reduce((calls, spy) => calls + spy.mock.calls.length, 0) };
  } finally {
    spies.forEach((spy) => spy.mockRestore());
  }
}

let h: IdentityHarness;
beforeAll(async () => {
  h = await startIdentity();
});
afterAll(() => h.close());

describe('POST /users/activate', () => {
  it('when the token is unknown, used or expired, or its user is no longer pending, then it answers 400 invalid_invite without hashing anything', async () => {
    const { db } = h.runtime;
    const used = await invited(h);
    await db.forOrg(used.org.id, (tx) => revokeInvites(tx, used.user.id));
    const expired = await invited(h, -1); // expired an hour ago
    const notPending = await invited(h);
    await db.asSystem('test fixture', (transaction) => User.update({ status: 'suspended' }, { where: { id: notPending.user.id }, transaction }));
    const cases = { unknown: randomBytes(32).toString('base64url'), used: used.token, expired: expired.token, not_pending: notPending.token };
    for (const [label, token] of Object.entries(cases)) {
      const { result: res, hashes } = await countHashing(() => activate(h, token, randomIp()));
      expect({ label, status: res.status, code: res.body.code, hashes }).toEqual({ label, status: 400, code: 'invalid_invite', hashes: 0 });
    }
  });

  it('when the token is valid, then the password is hashed exactly once, it answers a token and the account is active', async () => {
    const { token } = await invited(h);
    const { result: res, hashes } = await countHashing(() => activate(h, token, randomIp()));
    expect({ status: res.status, hashes }).toEqual({ status: 200, hashes: 1 });
    expect((await h.http.get('/users/me').set(bearer(res.body.access_token))).body.status).toBe('active');
  });

  it('when two activations of one valid token run concurrently, then exactly one answers 200', async () => {
    const { token } = await invited(h);
    const results = await Promise.all([activate(h, token, randomIp()), activate(h, token, randomIp())]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
  });
});

describe('POST /users/activate throttling per address', () => {
  let small: IdentityHarness;
  beforeAll(async () => {
    small = await startIdentity({ ACTIVATION_MAX_FAILURES_PER_IP: 3 });
  });
  afterAll(() => small.close());

  const failFrom = (ip: string) => activate(small, randomBytes(32).toString('base64url'), ip);

  it('when one address fails beyond its limit, then it answers 429 with Retry-After, even for a valid token, while a neighbouring address still gets through', async () => {
    const ip = randomIp();
    for (let i = 0; i < 3; i += 1) expect((await failFrom(ip)).status).toBe(400);
    const blocked = await failFrom(ip);
    expect(blocked.status).toBe(429);
    expect(blocked.body.code).toBe('too_many_activation_attempts');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(blocked.headers['retry-after'])).toBeLessThanOrEqual(small.config.LOGIN_FAILURE_WINDOW_SECONDS);
    const { token } = await invited(small);
    expect((await activate(small, token, ip)).status).toBe(429);
    const neighbour = ip.replace(/\.(\d+)$/, (_, last: string) => `.${Number(last) + 1}`);
    expect((await activate(small, token, neighbour)).status).toBe(200);
  });

  it('when activations succeed repeatedly from one address, then they never count towards the limit', async () => {
    const ip = randomIp();
    for (let i = 0; i < 5; i += 1) expect((await activate(small, (await invited(small)).token, ip)).status).toBe(200);
    expect((await failFrom(ip)).status).toBe(400);
  });

  it('when addresses of one IPv6 /64 fail, then they share one budget, while an address of another /64 has its own', async () => {
    const network = randomIpv6Prefix();
    for (const host of ['::1', ':a:b:c:d', ':ffff:ffff:ffff:ffff']) expect((await failFrom(`${network}${host}`)).status).toBe(400);
    expect((await failFrom(`${network}::2`)).status).toBe(429);
    expect((await failFrom(`${randomIpv6Prefix()}::2`)).status).toBe(400);
  });

  it('when IPv4-mapped IPv6 addresses fail, then each counts as its IPv4 address, not as one shared IPv6 network', async () => {
    const ip = randomIp();
    for (let i = 0; i < 3; i += 1) expect((await failFrom(`::ffff:${ip}`)).status).toBe(400);
    expect((await failFrom(ip)).status).toBe(429);
    expect((await failFrom(`::ffff:${randomIp()}`)).status).toBe(400);
  });
});

describe('POST /users/activate when the window passes', () => {
  let brief: IdentityHarness;
  beforeAll(async () => {
    brief = await startIdentity({ ACTIVATION_MAX_FAILURES_PER_IP: 1, LOGIN_FAILURE_WINDOW_SECONDS: 2 });
  });
  afterAll(() => brief.close());

  it('when an address was over its limit, then a valid token from it succeeds once the window has passed', async () => {
    const ip = randomIp();
    const { token } = await invited(brief);
    expect((await activate(brief, 'not-a-token', ip)).status).toBe(400);
    expect((await activate(brief, token, ip)).status).toBe(429);
    await delay(brief.config.LOGIN_FAILURE_WINDOW_SECONDS * 1000 + 200);
    expect((await activate(brief, token, ip)).status).toBe(200);
  });
});

describe('POST /users/activate without Redis', () => {
  let offline: IdentityHarness;
  beforeAll(async () => {
    offline = await startIdentity({ REDIS_URL: 'redis://127.0.0.1:1' });
  });
  afterAll(() => offline.close());

  it('when Redis is unreachable, then activations fail closed with 503 and Retry-After, before any hashing', async () => {
    const { token } = await invited(offline);
    const { result: res, hashes } = await countHashing(() => activate(offline, token, randomIp()));
    expect({ status: res.status, code: res.body.code, hashes }).toEqual({ status: 503, code: 'activation_unavailable', hashes: 0 });
    expect(res.headers['retry-after']).toBeDefined();
  });
});
