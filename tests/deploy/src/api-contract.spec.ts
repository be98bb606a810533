import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import request from 'supertest';
import { Webhook } from 'standardwebhooks';
import type { ApiGatewayConfig, IdentityServiceConfig, ServiceConfig, WebhookGatewayConfig } from '@saas/config';
import { createLogger, createMetrics } from '@saas/http';
import { createRuntime, type ServiceRuntime } from '@saas/runtime';
import { createOrg, createUser, DEFAULT_TEST_PASSWORD, startApp, testConfig, unique, type StartedApp } from '@saas/testing';
// The apps under test expose no library; the contract test assembles them from their sources, as their own tests do.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { buildGatewayApp } from '../../../apps/api-gateway/src/app';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { buildIdentityApp } from '../../../apps/identity-service/src/app';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { buildWebhookApp } from '../../../apps/webhook-gateway/src/app';
import { documentedRoutes, registeredRoutes, ResponseChecker } from './support/openapi-check';
import { formatErrors, openApiValidator } from './support/schemas';

async function withRedisReady<C extends ServiceConfig>(runtime: ServiceRuntime<C>): Promise<ServiceRuntime<C>> {
  if (runtime.redis.status !== 'ready') await Promise.race([once(runtime.redis, 'ready'), delay(2000)]);
  return runtime;
}

describe('the public API and its OpenAPI document', () => {
  let identityRuntime: ServiceRuntime<IdentityServiceConfig>;
  let webhookRuntime: ServiceRuntime<WebhookGatewayConfig>;
  const apps: { name: string; express: ReturnType<typeof buildIdentityApp>; server?: StartedApp }[] = [];
  let gateway: StartedApp;

  beforeAll(async () => {
    identityRuntime = await withRedisReady(createRuntime({ service: 'identity-service', config: testConfig<IdentityServiceConfig>('identity-service') }));
    webhookRuntime = await withRedisReady(createRuntime({ service: 'webhook-gateway', config: testConfig<WebhookGatewayConfig>('webhook-gateway') }));
    // Closing a runtime while its channel is still being set up emits 'error' on the channel.
    webhookRuntime.broker.channel.on('error', () => undefined);
    identityRuntime.broker.channel.on('error', () => undefined);
    apps.push({ name: 'identity-service', express: buildIdentityApp(identityRuntime) }, { name: 'webhook-gateway', express: buildWebhookApp(webhookRuntime) });
    apps[0].server = await startApp(apps[0].express, identityRuntime.close);
    apps[1].server = await startApp(apps[1].express, webhookRuntime.close);
    const config = testConfig<ApiGatewayConfig>('api-gateway', {
      IDENTITY_SERVICE_URL: apps[0].server.url,
      WEBHOOK_GATEWAY_URL: apps[1].server.url,
      INTEGRATION_WORKER_URL: apps[1].server.url,
    });
    gateway = await startApp(buildGatewayApp({ config, logger: createLogger('api-gateway', 'silent'), metrics: createMetrics('api-gateway') }));
  });

  afterAll(async () => {
    await gateway?.close();
    for (const app of apps) await app.server?.close();
  });

  it.each(['identity-service', 'webhook-gateway'])(
    'when %s\'s registered routes are compared with its own OpenAPI document, then every route is documented with its method and nothing else is',
    async (name) => {
      const app = apps.find((a) => a.name === name)!;
      const doc = (await request(app.server!.url).get('/openapi.json')).body;
      expect(registeredRoutes(app.express).sort()).toEqual(documentedRoutes(doc).sort());
    },
  );

  it('when the gateway merges the documents, then it is valid OpenAPI 3.0 and shows every operation of every service behind it', async () => {
    const merged = (await request(gateway.url).get('/openapi.json')).body;
    const validate = openApiValidator();
    expect(validate(merged) ? '' : formatErrors(validate.errors)).toBe('');
    const serviceOps = (await Promise.all(apps.map(async (a) => documentedRoutes((await request(a.server!.url).get('/openapi.json')).body)))).flat();
    expect(documentedRoutes(merged).sort()).toEqual(serviceOps.sort());
  });

  it('when a response breaks the document (undocumented status, wrong body), then the checker reports it', async () => {
    const checker = new ResponseChecker((await request(gateway.url).get('/openapi.json')).body);
    checker.check('get', '/users/me', 200, 'application/json', { id: 42, password_hash: 'x' });
    checker.check('get', '/users/me', 418, 'application/json', {});
    checker.check('get', '/nowhere', 200, 'application/json', {});
    expect(checker.problems).toEqual([
      expect.stringContaining('GET /users/me → 200: body does not match'),
      expect.stringContaining('GET /users/me → 418: status not documented'),
      expect.stringContaining('GET /nowhere → 200: no documented operation'),
    ]);
  });

  it('when real requests flow through the gateway, then every status and body is the one the merged document describes', async () => {
    const checker = new ResponseChecker((await request(gateway.url).get('/openapi.json')).body);
    const http = request(gateway.url);
    const unexpected: string[] = [];
    async function call(method: 'get' | 'post' | 'patch' | 'delete', url: string, expected: number, options: { token?: string; body?: object; form?: Record<string, string>; headers?: Record<string, string> } = {}) {
      let req = http[method](url);
      if (options.token) req = req.set('authorization', `Bearer ${options.token}`);
      for (const [k, v] of Object.entries(options.headers ?? {})) req = req.set(k, v);
      if (options.form) req = req.type('form').send(options.form);
      else if (options.body) req = req.send(options.body);
      const res = await req;
      const body = res.headers['content-type']?.includes('json') && res.text ? JSON.parse(res.text) : res.body;
      if (res.status !== expected) unexpected.push(`${method.toUpperCase()} ${url}: expected ${expected}, got ${res.status} ${res.text.slice(0, 300)}`);
      checker.check(method, url, res.status, res.headers['content-type'], body);
      return body;
    }

    const superadmin = await createUser(identityRuntime.db, { role: 'superadmin' });
    const { access_token: token } = await call('post', '/users/login', 200, { body: { email: superadmin.email, password: DEFAULT_TEST_PASSWORD } });
    // Swagger UI's "Authorize" (OAuth2 password flow) posts exactly this form.
    await call('post', '/users/login', 200, { form: { grant_type: 'password', username: superadmin.email, password: DEFAULT_TEST_PASSWORD, scope: '' } });
    await call('post', '/users/login', 401, { body: { email: superadmin.email, password: 'wrong-password-1' } });
    await call('get', '/users/me', 200, { token });
    await call('get', '/users/me', 401);

    const slug = unique('org');
    const org = await call('post', '/orgs', 201, { token, body: { name: `Org ${slug}`, slug, initial_admin_email: `${slug}-admin@example.test`, initial_admin_password: DEFAULT_TEST_PASSWORD } });
    await call('post', '/orgs', 409, { token, body: { name: `Org ${slug}`, slug, initial_admin_email: `${unique('x')}@example.test` } });
    await call('get', '/orgs', 200, { token });
    await call('get', `/orgs/${org.id}`, 200, { token });
    await call('get', `/orgs/${randomUUID()}`, 404, { token });
    await call('patch', `/orgs/${org.id}`, 200, { token, body: { name: `Org ${slug} renamed` } });

    const user = await call('post', '/users', 201, { token, body: { org_id: org.id, email: `${unique('u')}@example.test`, password: DEFAULT_TEST_PASSWORD, first_name: 'Ada' } });
    await call('post', '/users', 409, { token, body: { org_id: org.id, email: user.email, password: DEFAULT_TEST_PASSWORD } });
    await call('post', '/users', 422, { token, body: { org_id: org.id, email: `${unique('u')}@example.test`, is_admin: true } });
    const pending = await call('post', '/users', 201, { token, body: { org_id: org.id, email: `${unique('p')}@example.test` } });
    await call('post', `/users/${pending.id}/invite`, 201, { token });
    await call('get', `/users?org_id=${org.id}`, 200, { token });
    await call('get', `/users/${user.id}`, 200, { token });
    await call('patch', `/users/${user.id}`, 200, { token, body: { title: 'Engineer' } });
    await call('delete', `/users/${user.id}`, 204, { token });
    await call('get', `/audit-logs?org_id=${org.id}`, 200, { token });
    await call('get', `/audit-logs/verify?org_id=${org.id}`, 200, { token });
    await call('get', '/.well-known/jwks.json', 200);

    const tenant = await createOrg(webhookRuntime.db);
    const secret = webhookRuntime.config.WEBHOOK_SECRET_USER_SERVICE.split(' ')[0];
    const event = {
      event_id: unique('evt'),
      event_type: 'user.created',
      timestamp: new Date().toISOString(),
      organization_id: tenant.slug,
      metadata: { source: 'user-service', version: '1.0' },
      data: { user_id: unique('hr'), email: `${unique('hr')}@example.test`, first_name: 'Grace' },
    };
    const payload = JSON.stringify(event);
    const id = unique('msg');
    const signature = new Webhook(secret).sign(id, new Date(), payload);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signed = { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature };
    const received = await http.post('/webhooks/user-service').set(signed).send(payload);
    if (received.status !== 202) unexpected.push(`POST /webhooks/user-service: expected 202, got ${received.status} ${received.text}`);
    checker.check('post', '/webhooks/user-service', received.status, received.headers['content-type'], received.body);
    const unsigned = await http.post('/webhooks/user-service').set('content-type', 'application/json').send(payload);
    checker.check('post', '/webhooks/user-service', unsigned.status, unsigned.headers['content-type'], JSON.parse(unsigned.text));

    await call('get', `/integrations/status?org_id=${tenant.id}`, 200, { token });
    const events = await call('get', `/integrations/events?org_id=${tenant.id}`, 200, { token });
    const eventId = events.items?.[0]?.id ?? randomUUID();
    await call('get', `/integrations/events/${eventId}`, 200, { token });
    await call('post', `/integrations/events/${eventId}/replay`, 409, { token });
    await call('post', `/integrations/dead-letters/replay?org_id=${tenant.id}`, 200, { token, body: { dry_run: true } });
    await call('get', `/subscriptions?org_id=${tenant.id}`, 200, { token });
    await call('get', `/communication-logs?org_id=${tenant.id}`, 200, { token });

    expect(unexpected).toEqual([]);
    expect(checker.problems).toEqual([]);
  });
});
