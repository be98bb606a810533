import bcrypt from 'bcrypt';
import { Organization, User, type Database } from '@saas/db';
import { startService, type ServiceProcess } from '../lib';

export const BENCH_PASSWORD = 'bench-password-1';

/** One organization with `accounts` active users sharing one password (hashed once at the run's cost); the first is its admin. */
export async function seedAccounts(db: Database, accounts: number, cost: number): Promise<string[]> {
  const hash = await bcrypt.hash(BENCH_PASSWORD, cost);
  return db.asSystem('bench fixture', async (transaction) => {
    const slug = `bench-${Date.now().toString(36)}`;
    const org = await Organization.create({ name: `Bench ${slug}`, slug }, { transaction });
    const rows = Array.from({ length: accounts }, (_, i) => ({
      org_id: org.id,
      email: `user${i}@${slug}.test`,
      password_hash: hash,
      role: i === 0 ? 'admin' : 'user',
      status: 'active',
      first_name: 'Bench',
      last_name: String(i),
    }));
    await User.bulkCreate(rows, { transaction });
    return rows.map((r) => r.email);
  });
}

/** An access token of `email`, obtained the way a client does (POST /users/login). */
export async function loginToken(base: string, email: string): Promise<string> {
  const login = await fetch(`${base}/users/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: BENCH_PASSWORD }),
  });
  if (!login.ok) throw new Error(`login failed: ${login.status} ${await login.text()}`);
  return ((await login.json()) as { access_token: string }).access_token;
}

/**
 * identity-service and, in front of it, api-gateway (whose readiness asks every upstream: only identity-service
 * takes part here). Each is pushed on `stopping` as soon as it runs.
 */
export async function startIdentityBehindGateway(
  env: Record<string, string>,
  stopping: (() => Promise<void>)[],
  nodeArgs: { identity?: string[]; gateway?: string[] } = {},
): Promise<{ identity: ServiceProcess; gateway: ServiceProcess }> {
  const identity = await startService('identity-service', { env, nodeArgs: nodeArgs.identity });
  stopping.push(() => identity.stop());
  const gateway = await startService('api-gateway', {
    env: { ...env, IDENTITY_SERVICE_URL: identity.url, WEBHOOK_GATEWAY_URL: identity.url, INTEGRATION_WORKER_URL: identity.url },
    nodeArgs: nodeArgs.gateway,
  });
  stopping.push(() => gateway.stop());
  return { identity, gateway };
}
