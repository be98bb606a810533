import { FORGED_CURSORS, PROTOTYPE_KEYS, withForbiddenKey } from '@saas/testing';
import { bearer, seedWorld, startIdentity, type IdentityHarness, type World } from './harness';

let h: IdentityHarness;
let w: World;
beforeAll(async () => {
  h = await startIdentity();
  w = await seedWorld(h);
});
afterAll(() => h.close());

const LISTS = ['/users', '/orgs', '/audit-logs', '/audit-logs?since=2026-01-01T00:00:00Z'];

describe('forged list cursors', () => {
  it.each(LISTS)('when %s is given each forged cursor, then every one answers 422 with a problem, never 500', async (list) => {
    const token = h.tokenOf(w.superadmin);
    const statuses: Record<string, number> = {};
    for (const [form, cursor] of Object.entries(FORGED_CURSORS)) {
      const res = await h.http.get(`${list}${list.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(cursor)}`).set(bearer(token));
      statuses[form] = res.status;
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    }
    expect(statuses).toEqual(Object.fromEntries(Object.keys(FORGED_CURSORS).map((form) => [form, 422])));
  });
});

describe('prototype keys in bodies', () => {
  const writes = () => [
    { method: 'post' as const, path: '/users', token: h.tokenOf(w.adminA), body: { email: `proto-${Date.now()}@example.test`, role: 'user' } },
    { method: 'patch' as const, path: '/users/me', token: h.tokenOf(w.userA), body: { title: 'Engineer' } },
    { method: 'patch' as const, path: `/orgs/${w.orgA.id}`, token: h.tokenOf(w.adminA), body: { name: w.orgA.name } },
    { method: 'post' as const, path: '/users/login', token: undefined, body: { email: w.userA.email, password: 'x' } },
  ];

  it.each(PROTOTYPE_KEYS)('when a body carries "%s" as a key, at the top or nested, then 422 forbidden_key and nothing changes', async (key) => {
    for (const { method, path, token, body } of writes()) {
      for (const nested of [false, true]) {
        const req = h.http[method](path).set('content-type', 'application/json');
        const res = await (token ? req.set(bearer(token)) : req).send(withForbiddenKey(body, key, nested));
        expect({ path, nested, status: res.status, code: res.body.code }).toEqual({ path, nested, status: 422, code: 'forbidden_key' });
      }
    }
    const me = await h.http.get('/users/me').set(bearer(h.tokenOf(w.userA)));
    expect(me.body.title).not.toBe('Engineer');
  });
});
