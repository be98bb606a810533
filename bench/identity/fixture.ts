import bcrypt from 'bcrypt';
import { Database, Organization, User } from '@saas/db';
import { createBenchWorld, startService, type ServiceProcess } from '../lib';

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

export interface OneAccountStack {
  env: Record<string, string>;
  identity: ServiceProcess;
  gateway: ServiceProcess;
  /** A valid access token of the one seeded account. */
  token: string;
  /** Stops for what the caller starts besides; run (in reverse) with the stack's own at the end. */
  stopping: (() => Promise<void>)[];
}

/**
 * The CPU benches' setup: a bench world with one seeded account (bcrypt cost 4), identity-service behind
 * api-gateway, and a token; everything is stopped and the world dropped once `measure` settles.
 */
export async function withOneAccountStack(
  measure: (stack: OneAccountStack) => Promise<void>,
  nodeArgs: { identity?: string[]; gateway?: string[] } = {},
): Promise<void> {
  const world = await createBenchWorld();
  const env = world.env;
  const db = new Database({ url: env['DATABASE_URL']!, poolMax: 2 });
  const stopping: (() => Promise<void>)[] = [];
  try {
    const [email] = await seedAccounts(db, 1, 4);
    const { identity, gateway } = await startIdentityBehindGateway({ ...env, BCRYPT_COST: '4' }, stopping, nodeArgs);
    await measure({ env, identity, gateway, token: await loginToken(identity.url, email!), stopping });
  } finally {
    for (const stop of stopping.reverse()) await stop().catch(() => undefined);
    await db.close();
    await world.teardown();
  }
}
