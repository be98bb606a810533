import request from 'supertest';
import { Joi } from '@saas/config';
import { ApiRouter, ConflictError, createHttpApp, createLogger, createMetrics, startServer, type ServiceMetrics } from '@saas/http';
import type { IntegrationWorkerConfig } from '@saas/config';
import { createRuntime } from '@saas/runtime';
import { eventually, spawnTs, testConfig, waitForExit } from '@saas/testing';

function appWithRoutes(metrics: ServiceMetrics = createMetrics('test')) {
  const api = new ApiRouter()
    .add({
      method: 'post',
      path: '/things',
      summary: 'create a thing',
      tags: ['test'],
      security: 'none',
      request: { body: Joi.object({ name: Joi.string().max(10).required() }) },
      responses: { 201: { description: 'created' } },
      handler: (req, res) => {
        res.status(201).json(req.body);
      },
    })
    .add({
      method: 'get',
      path: '/things/:id',
      summary: 'a thing',
      tags: ['test'],
      security: 'none',
      request: { params: Joi.object({ id: Joi.string().guid() }) },
      responses: { 409: { description: 'always conflicts' } },
      handler: () => {
        throw new ConflictError('thing_conflict', 'It conflicts');
      },
    });
  return createHttpApp({
    service: 'test',
    logger: createLogger('test', 'silent'),
    metrics,
    trustProxy: 'false',
    readiness: { ok: async () => undefined },
    bodyLimit: 1024,
    api: { info: { title: 'test', version: '1' }, routers: [api] },
  });
}

const PROBLEM = 'application/problem+json';

describe('the shared HTTP app', () => {
  const app = appWithRoutes();

  it('when a path is unknown, then the answer is a 404 problem carrying the request id', async () => {
    const res = await request(app).get('/nope').set('x-request-id', 'abc-123');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toContain(PROBLEM);
    expect(res.headers['x-request-id']).toBe('abc-123');
    expect(JSON.parse(res.text)).toMatchObject({ status: 404, code: 'route_not_found', request_id: 'abc-123', title: 'Not Found' });
  });

  it('when the body is malformed JSON, then the answer is a 400 problem with the generated request id', async () => {
    const res = await request(app).post('/things').set('content-type', 'application/json').send('{"name":');
    expect(res.status).toBe(400);
    const body = JSON.parse(res.text);
    expect(body).toMatchObject({ code: 'malformed_json', status: 400 });
    expect(body.request_id).toBe(res.headers['x-request-id']);
  });

  it.each([
    ['too long', 'x'.repeat(200)],
    ['containing a space', 'a b'],
    ['empty', ''],
  ])('when the incoming request id is %s, then a fresh one is generated', async (_label, id) => {
    const res = await request(app).get('/nope').set('x-request-id', id);
    expect(res.headers['x-request-id']).not.toBe(id);
    expect(res.headers['x-request-id']).toMatch(/^[A-Za-z0-9._-]{1,128}$/);
  });

  it('when the body has an unknown field, then the answer is 422 listing it', async () => {
    const res = await request(app).post('/things').send({ name: 'ok', role: 'admin' });
    expect(res.status).toBe(422);
    expect(JSON.parse(res.text).errors).toEqual([{ path: 'role', message: expect.stringContaining('not allowed') }]);
  });

  it('when the body exceeds the limit, then the answer is a 413 problem', async () => {
    const res = await request(app).post('/things').send({ name: 'x'.repeat(5000) });
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toContain(PROBLEM);
  });

  it('when a path id is malformed, then the answer is 404, not 422 or 500', async () => {
    const res = await request(app).get('/things/not-a-uuid');
    expect(res.status).toBe(404);
  });

  it('when a handler throws a typed error, then its status and code reach the client', async () => {
    const res = await request(app).get('/things/7f9c1c3e-54a5-4d9f-9d43-3c1b1c2b8a11');
    expect(res.status).toBe(409);
    expect(JSON.parse(res.text)).toMatchObject({ code: 'thing_conflict', detail: 'It conflicts' });
  });

  it('when the operational endpoints are called, then health, readiness and the OpenAPI document answer, and /metrics is not there', async () => {
    expect((await request(app).get('/healthz')).status).toBe(200);
    expect((await request(app).get('/readyz')).body).toMatchObject({ status: 'ready', checks: { ok: 'ok' } });
    expect((await request(app).get('/metrics')).status).toBe(404);
    const doc = (await request(app).get('/openapi.json')).body;
    expect(Object.keys(doc.paths)).toEqual(['/things', '/things/{id}']);
  });

  it('when a readiness check fails with an error naming an internal address, then /readyz says which check is down and nothing more', async () => {
    const failing = createHttpApp({
      service: 'test',
      logger: createLogger('test', 'silent'),
      metrics: createMetrics('test'),
      trustProxy: 'false',
      readiness: { ok: async () => undefined, postgres: () => Promise.reject(new Error('connect ECONNREFUSED 10.1.2.3:5432')) },
    });
    const res = await request(failing).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ status: 'unavailable', service: 'test', checks: { ok: 'ok', postgres: 'down' } });
  });
});

describe('the metrics listener', () => {
  it('when an app starts with a metrics listener, then /metrics answers there and only there (404 on the public port), and close() closes both', async () => {
    const metrics = createMetrics('test');
    const running = await startServer(appWithRoutes(metrics), 0, {
      metrics: { registry: metrics.registry, port: 0, host: '127.0.0.1' },
      logger: createLogger('test', 'silent'),
      shutdownTimeoutMs: 2000,
      handleSignals: false,
    });
    const publicUrl = `http://127.0.0.1:${running.port}`;
    const metricsUrl = `http://127.0.0.1:${running.metricsPort}`;
    try {
      expect(running.metricsPort).not.toBe(running.port);
      expect((await request(publicUrl).get('/healthz')).status).toBe(200);
      expect((await request(publicUrl).get('/metrics')).status).toBe(404);
      const scraped = await request(metricsUrl).get('/metrics');
      expect(scraped.status).toBe(200);
      expect(scraped.headers['content-type']).toContain('text/plain');
      expect(scraped.text).toMatch(/http_request_duration_seconds_count\{[^}]*route="unmatched"[^}]*status="404"[^}]*\} 1/);
      expect((await request(metricsUrl).get('/healthz')).status).toBe(404);
    } finally {
      await running.close();
    }
    await expect(fetch(`${publicUrl}/healthz`)).rejects.toThrow();
    await expect(fetch(`${metricsUrl}/metrics`)).rejects.toThrow();
  });
});

describe('graceful shutdown', () => {
  it('when SIGTERM arrives during a request, then the request finishes, new connections are refused and the hooks run', async () => {
    const child = spawnTs('tests/foundation/src/fixtures/slow-server.ts');
    const port = await eventually(async () => /listening (\d+)/.exec(child.output())?.[1]);
    const inFlight = fetch(`http://127.0.0.1:${port}/slow?ms=800`);
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGTERM');
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ done: true });
    expect(await waitForExit(child)).toBe(0);
    expect(child.output()).toContain('shutdown-hooks-ran');
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });
});

describe('service runtime metrics', () => {
  it('when /metrics is scraped, then the database pool saturation is exported', async () => {
    const runtime = createRuntime({ service: 'pool-test', config: testConfig<IntegrationWorkerConfig>('integration-worker') });
    try {
      await runtime.db.ping();
      const text = await runtime.metrics.registry.metrics();
      expect(text).toMatch(/db_pool_connections\{state="used",service="pool-test"\} \d+/);
      expect(text).toMatch(/db_pool_connections\{state="idle",service="pool-test"\} \d+/);
    } finally {
      await runtime.close();
    }
  });
});

describe('a database outage reaching the shared app', () => {
  it.each([
    ['a Sequelize connection error', Object.assign(new Error('connect ECONNREFUSED'), { name: 'SequelizeConnectionRefusedError' })],
    ['a connection terminated mid-query', Object.assign(new Error('Connection terminated unexpectedly'), { name: 'SequelizeDatabaseError', parent: { message: 'Connection terminated unexpectedly' } })],
    ['PostgreSQL shutting down (57P01)', Object.assign(new Error('terminating connection'), { name: 'SequelizeDatabaseError', parent: { code: '57P01' } })],
  ])('when a handler fails with %s, then the answer is 503 with Retry-After', async (_label, failure) => {
    const api = new ApiRouter().add({
      method: 'get',
      path: '/down',
      summary: 'fails like the database',
      tags: ['test'],
      security: 'none',
      responses: { 503: { description: 'database down' } },
      handler: () => {
        throw failure;
      },
    });
    const app = createHttpApp({ service: 'test', logger: createLogger('test', 'silent'), metrics: createMetrics('test'), trustProxy: 'false', readiness: {}, api: { info: { title: 't', version: '1' }, routers: [api] } });
    const res = await request(app).get('/down');
    expect([res.status, JSON.parse(res.text).code]).toEqual([503, 'database_unavailable']);
    expect(res.headers['retry-after']).toBeDefined();
  });
});

describe('hostile input reaching the shared app', () => {
  const app = appWithRoutes();

  it('when a path parameter is not decodable UTF-8, then the answer is a 400 problem, not a 500', async () => {
    const res = await request(app).get('/things/%ED%A0%80');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toContain(PROBLEM);
  });
});
