import { randomUUID } from 'node:crypto';
import { entryHash } from '@saas/audit';
import { execute, selectRows } from '@saas/db';
import { bearer, DEFAULT_TEST_PASSWORD, ownerConnection, seedWorld, startIdentity, unique, type IdentityHarness, type World } from './harness';
import { auditEntries } from './harness';

let h: IdentityHarness;
beforeAll(async () => {
  h = await startIdentity();
});
afterAll(() => h.close());

interface Expectation {
  action: string;
  actor: (w: World) => string | null;
  target: (w: World, body: Record<string, unknown>) => string;
}

/** Each sensitive action, the request that performs it, and the one entry it must leave. */
const ACTIONS: [string, (w: World) => { method: 'post' | 'patch' | 'delete'; path: string; token?: string; body?: object }, Expectation[]][] = [
  ['user.created', (w) => ({ method: 'post', path: '/users', token: h.tokenOf(w.adminA), body: { email: `${unique()}@audit.test`, password: 'a-good-password' } }), [
    { action: 'user.created', actor: (w) => w.adminA.id, target: (_w, body) => String(body['id']) },
  ]],
  ['user.updated', (w) => ({ method: 'patch', path: `/users/${w.userA.id}`, token: h.tokenOf(w.adminA), body: { role: 'admin' } }), [
    { action: 'user.updated', actor: (w) => w.adminA.id, target: (w) => w.userA.id },
  ]],
  ['user.deleted', (w) => ({ method: 'delete', path: `/users/${w.userA.id}`, token: h.tokenOf(w.adminA) }), [
    { action: 'user.deleted', actor: (w) => w.adminA.id, target: (w) => w.userA.id },
  ]],
  ['user.invited', (w) => ({ method: 'post', path: `/users/${w.pendingA.id}/invite`, token: h.tokenOf(w.adminA) }), [
    { action: 'user.invited', actor: (w) => w.adminA.id, target: (w) => w.pendingA.id },
  ]],
  ['user.password_changed', (w) => ({ method: 'patch', path: '/users/me', token: h.tokenOf(w.userA), body: { current_password: DEFAULT_TEST_PASSWORD, new_password: 'another-password' } }), [
    { action: 'user.password_changed', actor: (w) => w.userA.id, target: (w) => w.userA.id },
  ]],
  ['user.login_failed', (w) => ({ method: 'post', path: '/users/login', body: { email: w.userA.email, password: 'wrong-password' } }), [
    { action: 'user.login_failed', actor: () => null, target: (w) => w.userA.id },
  ]],
  ['org.created (with user.created)', (w) => {
    const slug = unique('audited');
    return { method: 'post', path: '/orgs', token: h.tokenOf(w.superadmin), body: { name: slug, slug, initial_admin_email: `${slug}@audit.test` } };
  }, [
    { action: 'org.created', actor: (w) => w.superadmin.id, target: (_w, body) => String(body['id']) },
    { action: 'user.created', actor: (w) => w.superadmin.id, target: (_w, body) => String((body['initial_admin'] as { id: string }).id) },
  ]],
  ['org.updated', (w) => ({ method: 'patch', path: `/orgs/${w.orgA.id}`, token: h.tokenOf(w.adminA), body: { name: unique('new-name') } }), [
    { action: 'org.updated', actor: (w) => w.adminA.id, target: (w) => w.orgA.id },
  ]],
  ['org.suspended', (w) => ({ method: 'patch', path: `/orgs/${w.orgA.id}`, token: h.tokenOf(w.superadmin), body: { status: 'suspended' } }), [
    { action: 'org.suspended', actor: (w) => w.superadmin.id, target: (w) => w.orgA.id },
  ]],
  ['org.deleted', (w) => ({ method: 'delete', path: `/orgs/${w.orgA.id}`, token: h.tokenOf(w.superadmin) }), [
    { action: 'org.deleted', actor: (w) => w.superadmin.id, target: (w) => w.orgA.id },
  ]],
];

describe('audit entries', () => {
  it.each(ACTIONS.map(([label, call, expected]) => [label, call, expected] as const))(
    'when %s happens, then exactly its entries are written, with actor, target and request id',
    async (_label, call, expected) => {
      const w = await seedWorld(h);
      const requestId = unique('req');
      const { method, path, token, body } = call(w);
      let req = h.http[method](path).set('x-request-id', requestId);
      if (token) req = req.set(bearer(token));
      const res = await (body ? req.send(body) : req);
      expect(res.status).toBeLessThan(500);
      const entries = await auditEntries(h, { request_id: requestId });
      expect(entries.map((e) => ({ action: e.action, actor_id: e.actor_id, target_id: e.target_id, request_id: e.request_id }))).toEqual(
        expected.map((x) => ({ action: x.action, actor_id: x.actor(w), target_id: x.target(w, res.body), request_id: requestId })),
      );
      expect(entries.every((e) => e.ip)).toBe(true);
    },
  );

  it('when an invite is accepted, then one user.activated entry names the user as actor and target', async () => {
    const w = await seedWorld(h);
    const { invite_token } = (await h.http.post(`/users/${w.pendingA.id}/invite`).set(bearer(h.tokenOf(w.adminA)))).body;
    const requestId = unique('req');
    await h.http.post('/users/activate').set('x-request-id', requestId).send({ token: invite_token, password: 'my-new-password' }).expect(200);
    const entries = await auditEntries(h, { request_id: requestId });
    expect(entries.map((e) => [e.action, e.actor_id, e.target_id, e.org_id])).toEqual([['user.activated', w.pendingA.id, w.pendingA.id, w.orgA.id]]);
  });

  it('when a request fails validation or authorization, then no entry is written', async () => {
    const w = await seedWorld(h);
    const requestId = unique('req');
    await h.http.patch(`/users/${w.userA.id}`).set('x-request-id', requestId).set(bearer(h.tokenOf(w.userA))).send({ title: 'x' }).expect(403);
    await h.http.post('/users').set('x-request-id', requestId).set(bearer(h.tokenOf(w.adminA))).send({ email: 'bad' }).expect(422);
    expect(await auditEntries(h, { request_id: requestId })).toEqual([]);
  });
});

describe('GET /audit-logs', () => {
  it("when an admin reads the log, then only their organization's entries appear, filtered and paged newest first", async () => {
    const w = await seedWorld(h);
    const as = bearer(h.tokenOf(w.adminA));
    for (const title of ['one', 'two', 'three']) await h.http.patch(`/users/${w.userA.id}`).set(as).send({ title }).expect(200);
    await h.http.patch(`/users/${w.userB.id}`).set(bearer(h.tokenOf(w.adminB))).send({ title: 'b' }).expect(200);
    const first = await h.http.get(`/audit-logs?action=user.updated&target_id=${w.userA.id}&limit=2`).set(as);
    expect(first.status).toBe(200);
    expect(first.body.items.map((e: { metadata: { changes: { title: { to: string } } } }) => e.metadata.changes.title.to)).toEqual(['three', 'two']);
    const second = await h.http.get(`/audit-logs?action=user.updated&target_id=${w.userA.id}&limit=2&cursor=${first.body.next_cursor}`).set(as);
    expect(second.body.items).toHaveLength(1);
    expect(second.body.next_cursor).toBeNull();
    const all = await h.http.get('/audit-logs?limit=200').set(as);
    expect(all.body.items.every((e: { org_id: string }) => e.org_id === w.orgA.id)).toBe(true);
    const since = await h.http.get(`/audit-logs?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`).set(as);
    expect(since.body.items).toEqual([]);
  });

  it('when a time range is paged one entry at a time, then every entry in it comes once, newest first, across equal timestamps', async () => {
    const w = await seedWorld(h);
    // three entries share one instant, so page boundaries fall between equal timestamps; the hash chain is not under test here
    const owner = ownerConnection();
    try {
      await owner.transaction(async (transaction) => {
        await owner.query("SELECT set_config('app.scope', 'system', true)", { transaction });
        await owner.query(
          `INSERT INTO audit_logs (org_id, actor_type, action, created_at, prev_hash, hash)
           SELECT $1, 'system', 'test.ranged', now() - make_interval(secs => t), 'x', 'x' FROM unnest(ARRAY[1, 2, 2, 2, 3, 3600]) t`,
          { bind: [w.orgB.id], transaction },
        );
      });
    } finally {
      await owner.close();
    }
    const as = bearer(h.tokenOf(w.adminB));
    const range = `action=test.ranged&since=${encodeURIComponent(new Date(Date.now() - 60_000).toISOString())}&until=${encodeURIComponent(new Date().toISOString())}`;

    const walked: { id: string; created_at: string }[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: { id: string; created_at: string }[]; next_cursor: string | null } } = await h.http
        .get(`/audit-logs?${range}&limit=1${cursor ? `&cursor=${cursor}` : ''}`)
        .set(as)
        .expect(200);
      walked.push(...res.body.items);
      cursor = res.body.next_cursor;
    } while (cursor && walked.length <= 10);

    const inRange = (await h.http.get(`/audit-logs?${range}&limit=200`).set(as).expect(200)).body.items as { id: string }[];
    expect(walked.map((e) => e.id)).toEqual(inRange.map((e) => e.id));
    expect(new Set(walked.map((e) => e.id)).size).toBe(5);
    const times = walked.map((e) => Date.parse(e.created_at));
    expect(times).toEqual([...times].sort((x, y) => y - x));
  });

  it('when a time range is given with a cursor of the unranged list, then it is refused with 422', async () => {
    const w = await seedWorld(h);
    const as = bearer(h.tokenOf(w.adminA));
    for (const title of ['one', 'two']) await h.http.patch(`/users/${w.userA.id}`).set(as).send({ title }).expect(200);
    const unranged = await h.http.get('/audit-logs?limit=1').set(as).expect(200);
    const res = await h.http.get(`/audit-logs?since=2000-01-01T00:00:00Z&cursor=${unranged.body.next_cursor}`).set(as);
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
  });
});

describe('GET /audit-logs/verify', () => {
  it('when nobody tampered, then the chain is valid; when the owner edits an entry, then verify names it', async () => {
    const w = await seedWorld(h);
    const as = bearer(h.tokenOf(w.adminA));
    for (const title of ['one', 'two', 'three']) await h.http.patch(`/users/${w.userA.id}`).set(as).send({ title }).expect(200);
    expect((await h.http.get('/audit-logs/verify').set(as)).body).toEqual({ valid: true, entries_checked: 3 });
    const [, middle] = await auditEntries(h, { org_id: w.orgA.id });
    const owner = ownerConnection();
    try {
      await owner.query(`UPDATE audit_logs SET metadata = '{"changes": {"title": {"to": "forged"}}}' WHERE id = $1`, { bind: [middle!.id] });
    } finally {
      await owner.close();
    }
    expect((await h.http.get('/audit-logs/verify').set(as)).body).toEqual({ valid: false, entries_checked: 2, first_invalid_id: middle!.id });
    const bySuperadmin = await h.http.get(`/audit-logs/verify?org_id=${w.orgA.id}`).set(bearer(h.tokenOf(w.superadmin)));
    expect(bySuperadmin.body.first_invalid_id).toBe(middle!.id);
    expect((await h.http.get('/audit-logs/verify').set(bearer(h.tokenOf(w.adminB)))).body.valid).toBe(true);
  });

  it('when the owner deletes an entry, then verify names the entry after it', async () => {
    const w = await seedWorld(h);
    const as = bearer(h.tokenOf(w.adminA));
    for (const title of ['one', 'two', 'three']) await h.http.patch(`/users/${w.userA.id}`).set(as).send({ title }).expect(200);
    const [, middle, last] = await auditEntries(h, { org_id: w.orgA.id });
    const owner = ownerConnection();
    try {
      await owner.query('DELETE FROM audit_logs WHERE id = $1', { bind: [middle!.id] });
    } finally {
      await owner.close();
    }
    expect((await h.http.get('/audit-logs/verify').set(as)).body).toEqual({ valid: false, entries_checked: 2, first_invalid_id: last!.id });
  });

  it('when a row is forged through the services’ database role with a correct hash link, then verify answers valid: false naming it', async () => {
    const w = await seedWorld(h);
    const as = bearer(h.tokenOf(w.adminA));
    const rename = (title: string) => h.http.patch(`/users/${w.userA.id}`).set(as).send({ title }).expect(200);
    await rename('one');
    // the services' credentials are all it takes to INSERT into audit_logs; the checkpoint key stays out of reach
    const forgedId = await h.runtime.db.forOrg(w.orgA.id, async (tx) => {
      const [head] = await selectRows<{ hash: string }>(tx, 'SELECT hash FROM audit_logs WHERE org_id = $1 ORDER BY seq DESC LIMIT 1', [w.orgA.id]);
      const fields = {
        id: randomUUID(),
        org_id: w.orgA.id,
        actor_type: 'user',
        actor_id: w.adminA.id,
        action: 'user.updated',
        target_type: 'user',
        target_id: w.userA.id,
        request_id: null,
        ip: null,
        metadata: { changes: { role: { from: 'user', to: 'admin' } } },
        created_at: new Date(),
      };
      await execute(
        tx,
        `INSERT INTO audit_logs (id, org_id, actor_type, actor_id, action, target_type, target_id, metadata, created_at, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [fields.id, fields.org_id, fields.actor_type, fields.actor_id, fields.action, fields.target_type, fields.target_id, JSON.stringify(fields.metadata), fields.created_at.toISOString(), head!.hash, entryHash(head!.hash, fields)],
      );
      return fields.id;
    });
    // a legitimate change after it chains onto the forged row
    await rename('two');
    const expected = { valid: false, entries_checked: 2, first_invalid_id: forgedId };
    expect((await h.http.get('/audit-logs/verify').set(as)).body).toEqual(expected);
    expect((await h.http.get(`/audit-logs/verify?org_id=${w.orgA.id}`).set(bearer(h.tokenOf(w.superadmin)))).body).toEqual(expected);
  });
});
