import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import fc from 'fast-check';
import jwt from 'jsonwebtoken';
import { createTokenSigner } from '@saas/auth';
import type { IdentityServiceConfig, WebhookGatewayConfig } from '@saas/config';
import type { Organization, User } from '@saas/db';
import { createRuntime, type ServiceRuntime } from '@saas/runtime';
import { createOrg, createUser, startApp, testConfig, type StartedApp } from '@saas/testing';
// The apps expose no library; the fuzz test assembles them from their sources, as their own tests do.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { buildIdentityApp } from '../../../apps/identity-service/src/app';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { buildWebhookApp, createWebhookComponents } from '../../../apps/webhook-gateway/src/app';
import { assertWithHeapGrowth, hostileStrings, problemsWith, rowCounts, send, weirdValue } from './support';

const RUNS = Number(process.env['FUZZ_API_RUNS'] ?? 3200);
const WARM_UP = 300;
const HEAP_TOLERANCE_MB = 24;
const TABLES = ['organizations', 'users', 'invites', 'audit_logs', 'webhook_events', 'subscriptions', 'communication_logs'] as const;

let identity: ServiceRuntime<IdentityServiceConfig>;
let webhooks: ServiceRuntime<WebhookGatewayConfig>;
let identityApp: StartedApp;
let webhookApp: StartedApp;
let orgA: Organization;
let orgB: Organization;
const people: Record<'superadmin' | 'adminA' | 'userA' | 'adminB', User> = {} as never;
const tokens: Record<string, string> = {};

async function ready<C extends IdentityServiceConfig | WebhookGatewayConfig>(runtime: ServiceRuntime<C>): Promise<ServiceRuntime<C>> {
  runtime.broker.channel.on('error', () => undefined);
  if (runtime.redis.status !== 'ready') await Promise.race([once(runtime.redis, 'ready'), delay(2000)]);
  return runtime;
}

beforeAll(async () => {
  identity = await ready(createRuntime({ service: 'identity-service', config: testConfig<IdentityServiceConfig>('identity-service') }));
  webhooks = await ready(createRuntime({ service: 'webhook-gateway', config: testConfig<WebhookGatewayConfig>('webhook-gateway') }));
  identityApp = await startApp(buildIdentityApp(identity), identity.close);
  webhookApp = await startApp(buildWebhookApp(webhooks, createWebhookComponents(webhooks)), webhooks.close);
  [orgA, orgB] = [await createOrg(identity.db), await createOrg(identity.db)];
  people.superadmin = await createUser(identity.db, { role: 'superadmin' });
  people.adminA = await createUser(identity.db, { orgId: orgA.id, role: 'admin' });
  people.userA = await createUser(identity.db, { orgId: orgA.id });
  people.adminB = await createUser(identity.db, { orgId: orgB.id, role: 'admin' });
  const signer = createTokenSigner(identity.config);
  for (const [name, user] of Object.entries(people)) tokens[name] = signer.sign(user).access_token;
  // Forged: alg none, and HMAC signed with the public key as the secret (the classic confusion attack).
  tokens['none'] = jwt.sign({ sub: people.superadmin.id, role: 'superadmin', org_id: null, ver: 1 }, '', { algorithm: 'none' });
  tokens['hmac'] = jwt.sign({ sub: people.superadmin.id, role: 'superadmin', org_id: null, ver: 1 }, signer.key.pem, {
    algorithm: 'HS256',
    issuer: identity.config.JWT_ISSUER,
    audience: identity.config.JWT_AUDIENCE,
  });
});

afterAll(async () => {
  await identityApp?.close();
  await webhookApp?.close();
});

// ---- generators --------------------------------------------------------------------------------------------

type Target = 'identity' | 'webhooks';
interface Route {
  target: Target;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  /** A near-valid body to mutate. */
  body?: () => Record<string, unknown>;
}

const ROUTES: Route[] = [
  { target: 'identity', method: 'POST', path: '/users/login', body: () => ({ email: people.userA.email, password: 'wrong-password' }) },
  { target: 'identity', method: 'POST', path: '/users/activate', body: () => ({ token: randomUUID(), password: 'a-good-password' }) },
  { target: 'identity', method: 'GET', path: '/users/me' },
  { target: 'identity', method: 'PATCH', path: '/users/me', body: () => ({ first_name: 'Ann', current_password: 'not-it', new_password: 'another-password' }) },
  { target: 'identity', method: 'POST', path: '/users', body: () => ({ email: `fuzz-${randomUUID()}@example.test`, role: 'user', org_id: orgA.id, first_name: 'F' }) },
  { target: 'identity', method: 'GET', path: '/users' },
  { target: 'identity', method: 'GET', path: '/users/:id' },
  { target: 'identity', method: 'PATCH', path: '/users/:id', body: () => ({ title: 'T', role: 'user', status: 'active' }) },
  { target: 'identity', method: 'DELETE', path: '/users/:id' },
  { target: 'identity', method: 'POST', path: '/users/:id/invite' },
  { target: 'identity', method: 'POST', path: '/orgs', body: () => ({ name: `Fuzz ${randomUUID()}`, slug: `fuzz-${randomUUID().slice(0, 8)}`, initial_admin_email: `fa-${randomUUID()}@example.test` }) },
  { target: 'identity', method: 'GET', path: '/orgs' },
  { target: 'identity', method: 'GET', path: '/orgs/:id' },
  { target: 'identity', method: 'PATCH', path: '/orgs/:id', body: () => ({ name: `Renamed ${randomUUID()}` }) },
  { target: 'identity', method: 'DELETE', path: '/orgs/:id' },
  { target: 'identity', method: 'GET', path: '/audit-logs' },
  { target: 'identity', method: 'GET', path: '/audit-logs/verify' },
  { target: 'webhooks', method: 'GET', path: '/integrations/status' },
  { target: 'webhooks', method: 'GET', path: '/integrations/events' },
  { target: 'webhooks', method: 'GET', path: '/integrations/events/:id' },
  { target: 'webhooks', method: 'POST', path: '/integrations/events/:id/replay' },
  { target: 'webhooks', method: 'POST', path: '/integrations/dead-letters/replay', body: () => ({ service: 'user_service', dry_run: true }) },
  { target: 'webhooks', method: 'GET', path: '/subscriptions' },
  { target: 'webhooks', method: 'GET', path: '/communication-logs' },
];

const QUERY_KEYS = ['limit', 'cursor', 'org_id', 'status', 'role', 'q', 'since', 'until', 'action', 'actor_id', 'target_type', 'target_id', 'service', 'event_type', 'plan', 'user_id', 'template', 'recipient', 'dry_run'];

/** Percent-encodes; a lone surrogate (not encodable) is sent as the invalid UTF-8 bytes of one, itself a hostile input. */
const uri = (s: string) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return `%ED%A0%80${encodeURIComponent(s.replace(/[\uD800-\uDFFF]/g, ''))}`;
  }
};

const text = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v) ?? 'undefined');

const id = fc.oneof(
  fc.constantFrom('adminA', 'userA', 'adminB', 'superadmin', 'orgA', 'orgB').map((k) => () => (k === 'orgA' ? orgA.id : k === 'orgB' ? orgB.id : people[k as keyof typeof people].id)),
  fc.uuid().map((u) => () => u),
  fc.oneof(hostileStrings, fc.string({ maxLength: 80 }), fc.constantFrom('%2e%2e%2f', '..', '00000000-0000-0000-0000-00000000000g', '1', '-1', 'null')).map((s) => () => uri(s)),
);

/** `org_id` on its own, often: every scoped route must treat a foreign, unknown or malformed organization as 404/422, never 500. */
const orgId = fc.option(
  fc.oneof(
    fc.constantFrom('orgA', 'orgB').map((k) => () => (k === 'orgA' ? orgA.id : orgB.id)),
    fc.oneof(fc.uuid(), fc.constantFrom('null', '', 'not-a-uuid', '00000000-0000-0000-0000-000000000000'), hostileStrings).map((v) => () => v),
  ),
  { freq: 2 },
);

const query = fc
  .tuple(fc.dictionary(fc.oneof(fc.constantFrom(...QUERY_KEYS), fc.string({ maxLength: 10 })), weirdValue.map(text), { maxKeys: 4 }), orgId)
  .map(([q, org]) => () => {
    const entries = Object.entries(q);
    if (org) entries.push(['org_id', org()]);
    return entries.map(([k, v]) => `${uri(k)}=${uri(v)}`).join('&');
  });

type Mutation = (b: Record<string, unknown>) => unknown;
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constant((b: Record<string, unknown>) => b),
  fc.tuple(fc.nat(), weirdValue).map(([i, v]) => (b: Record<string, unknown>) => {
    const keys = Object.keys(b);
    return keys.length ? { ...b, [keys[i % keys.length]!]: v } : b;
  }),
  fc.tuple(fc.oneof(fc.constantFrom('role', 'org_id', 'status', 'email', 'external_id', 'password', 'token_version', 'id', '__proto__'), fc.string()), weirdValue).map(
    ([k, v]) => (b: Record<string, unknown>) => ({ ...b, [k]: v }),
  ),
  fc.constant(() => ({})),
  fc.jsonValue().map((v) => () => v),
);

type Auth = 'none' | 'garbage' | 'basic' | 'superadmin' | 'adminA' | 'userA' | 'adminB' | 'forged-none' | 'forged-hmac';
const auth = fc.constantFrom<Auth>('superadmin', 'superadmin', 'adminA', 'adminA', 'userA', 'adminB', 'none', 'garbage', 'basic', 'forged-none', 'forged-hmac');

const request = fc.record({
  route: fc.constantFrom(...ROUTES),
  id,
  query,
  mutation,
  raw: fc.option(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.constantFrom('{', 'null', '[]', '{"a":1,"a":2}', `${'['.repeat(3000)}`, 'email=x&password=y&grant_type=password')), { freq: 5 }),
  contentType: fc.constantFrom('application/json', 'application/json', 'application/json', 'application/x-www-form-urlencoded', 'text/plain', 'none'),
  auth,
});

function authorization(kind: Auth): Record<string, string> {
  switch (kind) {
    case 'none':
      return {};
    case 'garbage':
      return { authorization: 'Bearer not.a.jwt' };
    case 'basic':
      return { authorization: 'Basic dXNlcjpwYXNz' };
    case 'forged-none':
      return { authorization: `Bearer ${tokens['none']}` };
    case 'forged-hmac':
      return { authorization: `Bearer ${tokens['hmac']}` };
    default:
      return { authorization: `Bearer ${tokens[kind]}` };
  }
}

function encode(body: unknown, type: string): string {
  if (type === 'application/x-www-form-urlencoded' && body && typeof body === 'object')
    return Object.entries(body as Record<string, unknown>).map(([k, v]) => `${uri(k)}=${uri(text(v))}`).join('&');
  return JSON.stringify(body) ?? '';
}

let successes = 0;
const property = fc.asyncProperty(request, async (r) => {
  const path = r.route.path.replace(':id', r.id());
  const search = r.query();
  const url = `${r.route.target === 'identity' ? identityApp.url : webhookApp.url}${path}${search ? `?${search}` : ''}`;
  const body = r.route.method === 'GET' || r.route.method === 'DELETE' ? undefined : (r.raw ?? encode(r.mutation(r.route.body?.() ?? {}), r.contentType));
  const headers: Record<string, string> = { ...authorization(r.auth) };
  if (r.contentType !== 'none' && body !== undefined) headers['content-type'] = r.contentType;
  const before = await rowCounts(identity.db, TABLES);
  const answer = await send(url, { method: r.route.method, headers, body });
  const problem = problemsWith(answer);
  if (problem) throw new Error(`${r.route.method} ${url}: ${problem}`);
  if (answer.status < 300) successes++;
  if (answer.status >= 400) {
    const after = await rowCounts(identity.db, TABLES);
    // A failed login is itself audited (user.login_failed, docs/TENANCY.md "Entries"); nothing else may change on a
    // rejection.
    if (r.route.path === '/users/login') after.audit_logs = before.audit_logs;
    const changed = TABLES.filter((t) => after[t] !== before[t]);
    if (changed.length) throw new Error(`${r.route.method} ${url} answered ${answer.status} but changed ${changed.join(', ')}`);
  }
});

describe('the API under generated hostile requests', () => {
  it(`when ${RUNS} generated requests (wrong types, unknown fields, hostile ids and queries, forged and missing tokens) hit every identity and integration route, then none answers 5xx, every error is problem+json, a rejected request writes nothing, and the heap stays flat`, async () => {
    const heapGrowthMb = await assertWithHeapGrowth(property, RUNS, WARM_UP);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(heapGrowthMb).toBeLessThan(HEAP_TOLERANCE_MB);
    // The generated requests reached the handlers, not only the guards: some were authorised and succeeded.
    expect(successes).toBeGreaterThan(RUNS / 50);
  });
});
