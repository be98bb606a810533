import { auditEntries, startIdentity, unique, type IdentityHarness } from './harness';

const MAX_FAILURES_PER_IP = 3;

describe('X-Forwarded-For from a peer that is not api-gateway', () => {
  let h: IdentityHarness;
  beforeAll(async () => {
    // api-gateway is "10.9.9.9", so this test client (127.0.0.1) is any other pod connecting directly. A key prefix
    // of its own: the socket address's budget is not shared with the other specs' logins from 127.0.0.1.
    h = await startIdentity({
      TRUST_PROXY: '10.9.9.9',
      LOGIN_MAX_FAILURES_PER_IP: MAX_FAILURES_PER_IP,
      REDIS_KEY_PREFIX: `${process.env['REDIS_KEY_PREFIX']}trusted-proxy:`,
    });
  });
  afterAll(() => h.close());

  it('when failed logins each claim a new forwarded address, then they count against the socket address (429) and are audited with it', async () => {
    const emails = Array.from({ length: MAX_FAILURES_PER_IP + 1 }, () => `${unique('spray')}@example.test`);
    const statuses = [];
    for (const [i, email] of emails.entries()) {
      const res = await h.http.post('/users/login').set('X-Forwarded-For', `203.0.113.${i + 1}`).send({ email, password: 'wrong-password' });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([...Array<number>(MAX_FAILURES_PER_IP).fill(401), 429]);

    const failures = (await auditEntries(h, { action: 'user.login_failed' })).filter((e) => emails.includes(String(e.metadata['email'])));
    expect(failures).toHaveLength(MAX_FAILURES_PER_IP);
    for (const entry of failures) expect(entry.ip).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
  });
});
