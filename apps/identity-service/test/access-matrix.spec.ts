import { bearer, seedWorld, startIdentity, unique, type IdentityHarness, type World } from './harness';

/**
 * docs/API.md "Roles" and "Tenant isolation" as data: for every identity endpoint, the status each caller gets against
 * a resource of their own organization, of another organization, and themselves. 404 = cannot see it; 403 = the role
 * never may; 401 = no token.
 * Each cell runs against a fresh world, so a cell that deletes or suspends something never affects another.
 */
type Caller = 'superadmin' | 'admin' | 'user';
type Target = 'own' | 'other' | 'self';
type Expected = [superadmin: number, admin: number, user: number];

interface Call {
  method: 'get' | 'post' | 'patch' | 'delete';
  path: string;
  body?: object;
}

interface Row {
  endpoint: string;
  cells: Partial<Record<Target, Expected>>;
  call(w: World, caller: Caller, target: Target): Call;
}

const callerUser = (w: World, caller: Caller) => ({ superadmin: w.superadmin, admin: w.adminA, user: w.userA })[caller];
/** A member of the caller's organization other than themself (for a superadmin: any member of org A). */
const ownMember = (w: World, caller: Caller) => (caller === 'admin' ? w.userA : w.adminA2);
const orgOf = (w: World, target: Target) => (target === 'other' ? w.orgB : w.orgA);
const userTarget = (w: World, caller: Caller, target: Target) =>
  target === 'self' ? callerUser(w, caller) : target === 'own' ? ownMember(w, caller) : w.userB;
const orgQuery = (w: World, caller: Caller, target: Target) => (caller === 'superadmin' || target === 'other' ? `?org_id=${orgOf(w, target).id}` : '');

const MATRIX: Row[] = [
  { endpoint: 'GET /users/me', cells: { self: [200, 200, 200] }, call: () => ({ method: 'get', path: '/users/me' }) },
  { endpoint: 'PATCH /users/me', cells: { self: [200, 200, 200] }, call: () => ({ method: 'patch', path: '/users/me', body: { title: 'Engineer' } }) },
  {
    endpoint: 'POST /users',
    cells: { own: [201, 201, 403], other: [201, 404, 403] },
    call: (w, caller, target) => ({
      method: 'post',
      path: '/users',
      body: { email: `${unique('new')}@matrix.test`, password: 'a-good-password', ...(caller === 'superadmin' || target === 'other' ? { org_id: orgOf(w, target).id } : {}) },
    }),
  },
  { endpoint: 'GET /users', cells: { own: [200, 200, 403], other: [200, 404, 403] }, call: (w, caller, target) => ({ method: 'get', path: `/users${orgQuery(w, caller, target)}` }) },
  {
    endpoint: 'GET /users/{id}',
    cells: { own: [200, 200, 404], other: [200, 404, 404], self: [200, 200, 200] },
    call: (w, caller, target) => ({ method: 'get', path: `/users/${userTarget(w, caller, target).id}` }),
  },
  {
    endpoint: 'PATCH /users/{id}',
    cells: { own: [200, 200, 403], other: [200, 404, 403], self: [403, 200, 403] },
    call: (w, caller, target) => ({ method: 'patch', path: `/users/${userTarget(w, caller, target).id}`, body: { title: 'Lead' } }),
  },
  {
    endpoint: 'PATCH /users/{id} role+status',
    cells: { own: [200, 200, 403], other: [200, 404, 403] },
    call: (w, caller, target) => ({ method: 'patch', path: `/users/${userTarget(w, caller, target).id}`, body: { role: 'admin', status: 'suspended' } }),
  },
  {
    endpoint: 'DELETE /users/{id}',
    cells: { own: [204, 204, 403], other: [204, 404, 403], self: [403, 403, 403] },
    call: (w, caller, target) => ({ method: 'delete', path: `/users/${userTarget(w, caller, target).id}` }),
  },
  {
    endpoint: 'POST /users/{id}/invite',
    cells: { own: [201, 201, 403], other: [201, 404, 403], self: [403, 409, 403] },
    call: (w, caller, target) => ({
      method: 'post',
      path: `/users/${target === 'self' ? callerUser(w, caller).id : target === 'own' ? w.pendingA.id : w.pendingB.id}/invite`,
    }),
  },
  {
    endpoint: 'POST /orgs',
    cells: { own: [201, 403, 403] },
    call: () => {
      const slug = unique('matrix');
      return { method: 'post', path: '/orgs', body: { name: `Org ${slug}`, slug, initial_admin_email: `${slug}@matrix.test` } };
    },
  },
  { endpoint: 'GET /orgs', cells: { own: [200, 403, 403] }, call: () => ({ method: 'get', path: '/orgs' }) },
  { endpoint: 'GET /orgs/{id}', cells: { own: [200, 200, 200], other: [200, 404, 404] }, call: (w, _c, target) => ({ method: 'get', path: `/orgs/${orgOf(w, target).id}` }) },
  {
    endpoint: 'PATCH /orgs/{id} name',
    cells: { own: [200, 200, 403], other: [200, 404, 403] },
    call: (w, _c, target) => ({ method: 'patch', path: `/orgs/${orgOf(w, target).id}`, body: { name: `Renamed ${unique()}` } }),
  },
  {
    endpoint: 'PATCH /orgs/{id} status',
    cells: { own: [200, 403, 403], other: [200, 403, 403] },
    call: (w, _c, target) => ({ method: 'patch', path: `/orgs/${orgOf(w, target).id}`, body: { status: 'suspended' } }),
  },
  { endpoint: 'DELETE /orgs/{id}', cells: { own: [204, 403, 403], other: [204, 403, 403] }, call: (w, _c, target) => ({ method: 'delete', path: `/orgs/${orgOf(w, target).id}` }) },
  { endpoint: 'GET /audit-logs', cells: { own: [200, 200, 403], other: [200, 404, 403] }, call: (w, caller, target) => ({ method: 'get', path: `/audit-logs${orgQuery(w, caller, target)}` }) },
  {
    endpoint: 'GET /audit-logs/verify',
    cells: { own: [200, 200, 403], other: [200, 404, 403] },
    call: (w, caller, target) => ({ method: 'get', path: `/audit-logs/verify${orgQuery(w, caller, target)}` }),
  },
];

const CALLERS: Caller[] = ['superadmin', 'admin', 'user'];
const cells = MATRIX.flatMap((row) =>
  Object.entries(row.cells).flatMap(([target, expected]) =>
    CALLERS.map((caller, i) => ({ row, caller, target: target as Target, expected: expected[i]! })),
  ),
);

let h: IdentityHarness;
beforeAll(async () => {
  h = await startIdentity();
});
afterAll(() => h.close());

const send = (call: Call, headers: Record<string, string>) => {
  const req = h.http[call.method](call.path).set(headers);
  return call.body ? req.send(call.body) : req;
};

describe('access matrix (role × endpoint × own org / other org / self)', () => {
  it.each(cells.map((c) => [c.row.endpoint, c.caller, c.target, c.expected, c] as const))(
    'when %s is called by a %s on a %s resource, then it answers %d',
    async (_e, caller, target, expected, cell) => {
      const w = await seedWorld(h);
      const res = await send(cell.row.call(w, caller, target), bearer(h.tokenOf(callerUser(w, caller))));
      expect(res.status).toBe(expected);
      if (res.status >= 400) expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    },
  );

  it.each(MATRIX.map((row) => [row.endpoint, row] as const))('when %s is called without a token, then it answers 401 with WWW-Authenticate: Bearer', async (_e, row) => {
    const w = await seedWorld(h);
    const target = Object.keys(row.cells)[0] as Target;
    const res = await send(row.call(w, 'admin', target), {});
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });
});
