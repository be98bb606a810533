import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { Sequelize } from 'sequelize';
import request from 'supertest';
import { createTokenSigner } from '@saas/auth';
import type { IdentityServiceConfig } from '@saas/config';
import { AuditLog, type Organization, type User } from '@saas/db';
import { createRuntime, type ServiceRuntime } from '@saas/runtime';
// Test-only import of the shared test kit (apps may not depend on type:testing libraries in production code).
import { createOrg, createUser, DEFAULT_TEST_PASSWORD, startApp, testConfig, unique, type StartedApp, type UserFixture } from '@saas/testing';
import { buildIdentityApp } from '../src/app';

export { createOrg, createUser, DEFAULT_TEST_PASSWORD, unique };

export interface IdentityHarness {
  runtime: ServiceRuntime<IdentityServiceConfig>;
  config: IdentityServiceConfig;
  server: StartedApp;
  http: ReturnType<typeof request>;
  tokenOf(user: User): string;
  close(): Promise<void>;
}

/** identity-service on an ephemeral port, against the run's database, Redis and broker; tokens signed with the run's key. */
export async function startIdentity(overrides: Record<string, string | number | boolean> = {}): Promise<IdentityHarness> {
  const config = testConfig<IdentityServiceConfig>('identity-service', overrides);
  const runtime = createRuntime({ service: 'identity-service', config });
  // Like a readiness-gated deployment: traffic starts once Redis is connected (it has no offline queue). A Redis that
  // never comes (an outage test) is waited for briefly.
  if (runtime.redis.status !== 'ready') await Promise.race([once(runtime.redis, 'ready').catch(() => undefined), delay(1000)]);
  // Closing while the broker channel is still declaring its topology crashes the process (libs/messaging): let it finish.
  await runtime.broker.channel.waitForConnect();
  const server = await startApp(buildIdentityApp(runtime), runtime.close);
  const signer = createTokenSigner(config);
  return {
    runtime,
    config,
    server,
    http: request(server.url),
    tokenOf: (user) => signer.sign(user).access_token,
    close: () => server.close(),
  };
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

export interface World {
  orgA: Organization;
  orgB: Organization;
  superadmin: User;
  adminA: User;
  adminA2: User;
  userA: User;
  pendingA: User;
  adminB: User;
  userB: User;
  pendingB: User;
}

/** Two organizations with admins, users and pending users, and a superadmin. */
export async function seedWorld(h: IdentityHarness): Promise<World> {
  const { db } = h.runtime;
  const [orgA, orgB] = [await createOrg(db), await createOrg(db)];
  const member = (org: Organization, fixture: UserFixture = {}) => createUser(db, { orgId: org.id, ...fixture });
  return {
    orgA,
    orgB,
    superadmin: await createUser(db, { role: 'superadmin' }),
    adminA: await member(orgA, { role: 'admin' }),
    adminA2: await member(orgA, { role: 'admin' }),
    userA: await member(orgA),
    pendingA: await member(orgA, { status: 'pending', password: null }),
    adminB: await member(orgB, { role: 'admin' }),
    userB: await member(orgB),
    pendingB: await member(orgB, { status: 'pending', password: null }),
  };
}

/** Audit entries as the owner sees them (no row-level security), for assertions. */
export async function auditEntries(h: IdentityHarness, where: Record<string, unknown>): Promise<AuditLog[]> {
  return h.runtime.db.asSystem('test assertion', (transaction) => AuditLog.findAll({ where, order: [['seq', 'ASC']], transaction }));
}

/** The tables' owner (DATABASE_ADMIN_URL): the only role able to tamper with the append-only audit log. */
export const ownerConnection = () => new Sequelize(String(process.env['DATABASE_ADMIN_URL']), { logging: false });
