import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createOrg, createUser, DEFAULT_TEST_PASSWORD, unique } from '@saas/testing';
import { documentedRoutes, registeredRoutes, ResponseChecker } from './support/openapi-check';
import { formatErrors, openApiValidator } from './support/schemas';
import { signedUserCreated, startStack, type Stack } from './support/stack';

describe('the public API and its OpenAPI document', () => {
  let stack: Stack;
  let gateway: Stack['gateway'];
  const services = () => [stack.identity.app, stack.webhooks.app];

  beforeAll(async () => {
    stack = await startStack();
    gateway = stack.gateway;
  });

  afterAll(async () => {
    await stack?.close();
  });

  it.each(['identity-service', 'webhook-gateway'])(
    'when %s\'s registered routes are compared with its own OpenAPI document, then every route is documented with its method and nothing else is',
    async (name) => {
      const app = services().find((a) => a.name === name)!;
      const doc = (await request(app.server.url).get('/openapi.json')).body;
      expect(registeredRoutes(app.express).sort()).toEqual(documentedRoutes(doc).sort());
    },
  );

  it('when the gateway merges the documents, then it is valid OpenAPI 3.0 and shows every operation of every service behind it', async () => {
    const merged = (await request(gateway.url).get('/openapi.json')).body;
    const validate = openApiValidator();
    expect(validate(merged) ? '' : formatErrors(validate.errors)).toBe('');
    const serviceOps = (await Promise.all(services().map(async (a) => documentedRoutes((await request(a.server.url).get('/openapi.json')).body)))).flat();
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

    const superadmin = await createUser(stack.identity.db, { role: 'superadmin' });
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

    const tenant = await createOrg(stack.webhooks.db);
    const { body: payload, headers: signed } = signedUserCreated(stack.webhooks.config, tenant.slug);
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
