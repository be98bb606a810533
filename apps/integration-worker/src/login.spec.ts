import { createTokenSigner } from '@saas/auth';
import type { IdentityServiceConfig } from '@saas/config';
import { Database, User, type Organization } from '@saas/db';
import { createOrg, createUser, eventually, freePort, spawnTs, testConfig, unique, waitForExit } from '@saas/testing';
import { Producer, runWorker, scenarioConfig, settled, type RunningWorker } from './harness.spec-helper';

const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 4 });
const config = scenarioConfig();
let running: RunningWorker;
let producer: Producer;
let identity: ReturnType<typeof spawnTs>;
let identityUrl: string;
let org: Organization;

beforeAll(async () => {
  running = await runWorker(config);
  producer = new Producer(db, config);
  const port = await freePort();
  identityUrl = `http://127.0.0.1:${port}`;
  identity = spawnTs('apps/identity-service/src/main.ts', { IDENTITY_SERVICE_PORT: port });
  await eventually(async () => (await fetch(`${identityUrl}/readyz`)).ok, 30000);
  org = await createOrg(db);
}, 40000);
afterAll(async () => {
  identity.kill('SIGTERM');
  await waitForExit(identity);
  await running.stop();
  await producer.close();
  await db.close();
});

const postJson = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${identityUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, unknown> };
};

describe('users created by the directory', () => {
  it('when a user arrives through user.created, then they cannot log in until an admin invites them and they activate', async () => {
    const externalId = unique('emp');
    const email = `${externalId}@example.test`;
    expect((await settled(db, await producer.ingest(org, 'user.created', { user_id: externalId, email }))).status).toBe('processed');
    const password = 'a-long-enough-password';
    expect((await postJson('/users/login', { email, password })).status).toBe(401);

    const admin = await createUser(db, { orgId: org.id, role: 'admin' });
    const token = createTokenSigner(testConfig<IdentityServiceConfig>('identity-service')).sign(admin).access_token;
    const user = await db.forOrg(org.id, (transaction) => User.findOne({ where: { external_id: externalId }, transaction }));
    const invite = await postJson(`/users/${user!.id}/invite`, {}, { authorization: `Bearer ${token}` });
    expect(invite.status).toBe(201);
    expect((await postJson('/users/login', { email, password })).status).toBe(401);

    expect((await postJson('/users/activate', { token: invite.body['invite_token'], password })).status).toBe(200);
    const login = await postJson('/users/login', { email, password });
    expect(login.status).toBe(200);
    expect(login.body['access_token']).toEqual(expect.any(String));
  });
});
