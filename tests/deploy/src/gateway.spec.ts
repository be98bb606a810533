import request from 'supertest';
import type { ApiGatewayConfig } from '@saas/config';
import { Joi } from '@saas/config';
import { ApiRouter, createHttpApp, createLogger, createMetrics } from '@saas/http';
import { startApp, testConfig, type StartedApp } from '@saas/testing';
// The gateway app is the component under test; apps expose no library, so the spec reaches its source directly.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { buildGatewayApp } from '../../../apps/api-gateway/src/app';
import { formatErrors, openApiValidator } from './support/schemas';

/**
 * Upstreams built exactly like every service (createHttpApp, ApiRouter, the services' TRUST_PROXY default), whose
 * routes answer what the service saw of the request: the gateway is what these tests exercise.
 */
function upstream(name: string, router: ApiRouter | undefined, ready: () => boolean): ReturnType<typeof createHttpApp> {
  const serviceTrust = testConfig<{ TRUST_PROXY: string }>('identity-service').TRUST_PROXY;
  return createHttpApp({
    service: name,
    logger: createLogger(name, 'silent'),
    metrics: createMetrics(name),
    trustProxy: serviceTrust,
    readiness: {
      self: async () => {
        if (!ready()) throw new Error('not ready');
      },
    },
    ...(router ? { api: { info: { title: name, version: '1' }, routers: [router] } } : {}),
  });
}

const echo = new ApiRouter()
  .add({
    method: 'get',
    path: '/users/echo',
    summary: 'what the service saw',
    tags: ['users'],
    security: 'bearer',
    responses: { 200: { description: 'echo', schema: Joi.object({ ip: Joi.string(), request_id: Joi.string(), forwarded_for: Joi.string() }) } },
    handler: (req, res) => {
      res.json({ ip: req.ip, request_id: req.id, forwarded_for: req.headers['x-forwarded-for'] });
    },
  })
  .add({
    method: 'get',
    path: '/internal/things',
    summary: 'a route the gateway does not expose',
    tags: ['internal'],
    security: 'none',
    responses: { 200: { description: 'ok' } },
    handler: (_req, res) => {
      res.json({});
    },
  });

const webhooks = new ApiRouter().add({
  method: 'post',
  path: '/webhooks/user-service',
  summary: 'receive a user-service webhook',
  tags: ['webhooks'],
  security: 'webhook',
  headerParams: [{ name: 'webhook-signature', description: 'v1,<base64 HMAC-SHA256>' }],
  responses: { 202: { description: 'received' } },
  handler: (_req, res) => {
    res.status(202).json({ status: 'received' });
  },
});

async function closedPortUrl(): Promise<string> {
  const probe = await startApp(upstream('gone', undefined, () => true));
  await probe.close();
  return probe.url;
}

describe('api-gateway', () => {
  const state = { identityReady: true, workerReady: true };
  let identity: StartedApp;
  let webhook: StartedApp;
  let worker: StartedApp;
  let gateway: StartedApp;

  const gatewayFor = (overrides: Partial<Record<keyof ApiGatewayConfig, string>>) => {
    const config = testConfig<ApiGatewayConfig>('api-gateway', {
      IDENTITY_SERVICE_URL: identity.url,
      WEBHOOK_GATEWAY_URL: webhook.url,
      INTEGRATION_WORKER_URL: worker.url,
      ...overrides,
    });
    return buildGatewayApp({ config, logger: createLogger('api-gateway', 'silent'), metrics: createMetrics('api-gateway') });
  };

  /** A second gateway, configured differently, for one test. */
  async function withGateway(overrides: Partial<Record<keyof ApiGatewayConfig, string>>, use: (url: string) => Promise<void>) {
    const other = await startApp(gatewayFor(overrides));
    try {
      await use(other.url);
    } finally {
      await other.close();
    }
  }

  beforeAll(async () => {
    identity = await startApp(upstream('identity-service', echo, () => state.identityReady));
    webhook = await startApp(upstream('webhook-gateway', webhooks, () => true));
    worker = await startApp(upstream('integration-worker', undefined, () => state.workerReady));
    gateway = await startApp(gatewayFor({}));
  });

  afterAll(async () => {
    await Promise.all([gateway, identity, webhook, worker].map((a) => a?.close()));
  });

  describe('proxying', () => {
    it('when a request carries a valid x-request-id, then the service sees that id and the client gets it back', async () => {
      const res = await request(gateway.url).get('/users/echo').set('x-request-id', 'client-req.42');
      expect(res.status).toBe(200);
      expect(res.headers['x-request-id']).toBe('client-req.42');
      expect(res.body.request_id).toBe('client-req.42');
    });

    it('when a request has no x-request-id, then the id the gateway generates is the one the service logs and the client sees', async () => {
      const res = await request(gateway.url).get('/users/echo');
      expect(res.headers['x-request-id']).toMatch(/^[A-Za-z0-9._-]{1,128}$/);
      expect(res.body.request_id).toBe(res.headers['x-request-id']);
    });

    it('when a client sends a spoofed X-Forwarded-For, then the service sees the client\'s real address instead', async () => {
      const res = await request(gateway.url).get('/users/echo').set('x-forwarded-for', '203.0.113.7, 198.51.100.1');
      expect(res.body.ip).not.toContain('203.0.113.7');
      expect(res.body.ip).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
      expect(res.body.forwarded_for).toBe(res.body.ip);
    });

    it('when TRUST_PROXY names the load balancer in front of the gateway, then the address it forwards is the one the service sees', async () => {
      await withGateway({ TRUST_PROXY: 'loopback' }, async (url) => {
        const res = await request(url).get('/users/echo').set('x-forwarded-for', '203.0.113.7');
        expect(res.body.ip).toBe('203.0.113.7');
      });
    });

    it('when a path belongs to no service, then the gateway answers a 404 problem with the request id', async () => {
      const res = await request(gateway.url).get('/internal/things').set('x-request-id', 'nf-1');
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(JSON.parse(res.text)).toMatchObject({ status: 404, code: 'route_not_found', request_id: 'nf-1' });
    });

    it('when the service behind a path is down, then the gateway answers a 502 problem', async () => {
      await withGateway({ IDENTITY_SERVICE_URL: await closedPortUrl() }, async (url) => {
        const res = await request(url).get('/users/echo').set('x-request-id', 'down-1');
        expect(res.status).toBe(502);
        expect(res.headers['content-type']).toContain('application/problem+json');
        expect(JSON.parse(res.text)).toMatchObject({ status: 502, code: 'upstream_unavailable', request_id: 'down-1' });
      });
    });
  });

  describe('aggregate health', () => {
    it('when every service is ready, then /readyz is 200 listing each', async () => {
      const res = await request(gateway.url).get('/readyz');
      expect(res.status).toBe(200);
      expect(res.body.checks).toEqual({ 'identity-service': 'ok', 'webhook-gateway': 'ok', 'integration-worker': 'ok' });
    });

    it('when one service is not ready, then /readyz is 503 naming it, while /healthz stays 200', async () => {
      state.workerReady = false;
      try {
        const res = await request(gateway.url).get('/readyz');
        expect(res.status).toBe(503);
        expect(res.body).toEqual({ status: 'unavailable', service: 'api-gateway', checks: { 'identity-service': 'ok', 'webhook-gateway': 'ok', 'integration-worker': 'down' } });
        expect((await request(gateway.url).get('/healthz')).status).toBe(200);
      } finally {
        state.workerReady = true;
      }
    });

    it('when a service is unreachable, then /readyz is 503 naming it, but not its internal URL', async () => {
      const unreachable = await closedPortUrl();
      await withGateway({ WEBHOOK_GATEWAY_URL: unreachable }, async (url) => {
        const res = await request(url).get('/readyz');
        expect(res.status).toBe(503);
        expect(res.body.checks['webhook-gateway']).toBe('down');
        expect(res.text).not.toContain(new URL(unreachable).host);
        expect(res.text).not.toMatch(/https?:|127\.0\.0\.1/);
      });
    });
  });

  describe('API documentation', () => {
    it('when /openapi.json is fetched, then it is a valid OpenAPI 3.0 document merging the routed paths of every service', async () => {
      const res = await request(gateway.url).get('/openapi.json');
      expect(res.status).toBe(200);
      const validate = openApiValidator();
      expect(validate(res.body) ? '' : formatErrors(validate.errors)).toBe('');
      expect(res.body.paths['/users/echo'].get['x-service']).toBe('identity-service');
      expect(res.body.paths['/webhooks/user-service'].post['x-service']).toBe('webhook-gateway');
      expect(res.body.paths['/webhooks/user-service'].post.parameters).toEqual([expect.objectContaining({ name: 'webhook-signature', in: 'header' })]);
      expect(res.body.paths['/internal/things']).toBeUndefined();
      expect(res.body.servers).toEqual([{ url: '/', description: expect.any(String) }]);
      expect(res.body.components.securitySchemes.oauth2Password.flows.password.tokenUrl).toBe('/users/login');
      expect(res.body.components.schemas.Problem).toBeDefined();
    });

    it('when a service is unreachable, then the document still shows the others and names the missing one', async () => {
      await withGateway({ WEBHOOK_GATEWAY_URL: await closedPortUrl() }, async (url) => {
        const res = await request(url).get('/openapi.json');
        expect(res.status).toBe(200);
        expect(res.body.paths['/users/echo']).toBeDefined();
        expect(res.body.paths['/webhooks/user-service']).toBeUndefined();
        expect(res.body.info.description).toContain('webhook-gateway');
      });
    });

    it('when /docs is opened, then it redirects to the Swagger UI page, which loads its assets and the merged document from the gateway', async () => {
      const redirect = await request(gateway.url).get('/docs');
      expect(redirect.status).toBe(301);
      expect(redirect.headers['location']).toBe('/docs/');
      const page = await request(gateway.url).get('/docs/');
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toContain('text/html');
      expect(page.text).toContain('swagger-ui-bundle.js');
      const init = await request(gateway.url).get('/docs/swagger-ui-init.js');
      expect(init.status).toBe(200);
      expect(init.text).toContain('"swaggerUrl": "/openapi.json"');
      const bundle = await request(gateway.url).get('/docs/swagger-ui-bundle.js');
      expect(bundle.status).toBe(200);
      expect(bundle.headers['content-type']).toContain('javascript');
      for (const demo of ['/docs/index.html', '/docs/swagger-initializer.js']) expect((await request(gateway.url).get(demo)).headers['location']).toBe('/docs/');
    });

    it('when the Swagger UI page is served, then its CSP allows only the gateway\'s own scripts and does not force HTTPS', async () => {
      const csp = (await request(gateway.url).get('/docs/')).headers['content-security-policy'];
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).not.toContain('upgrade-insecure-requests');
      expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    });
  });
});
