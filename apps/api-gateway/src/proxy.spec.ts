import { once } from 'node:events';
import http from 'node:http';
import express from 'express';
import request from 'supertest';
import { createHttpApp, createLogger, createMetrics } from '@saas/http';
import { eventually, startApp, type StartedApp } from '@saas/testing';
import { proxyTo } from './proxy';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

describe('the gateway proxy', () => {
  let upstream: StartedApp;
  let gateway: StartedApp;
  const seen: Seen[] = [];
  const closedEarly: string[] = [];

  beforeAll(async () => {
    const service = express();
    service.get('/slow/:id', (req, res) => {
      req.socket.once('close', () => closedEarly.push(req.params.id!));
      setTimeout(() => res.json({ late: true }), 2000);
    });
    service.all('/{*rest}', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.originalUrl, headers: req.headers, body: Buffer.concat(chunks).toString() });
        res.status(201).append('set-cookie', ['a=1', 'b=2']).set('x-upstream', 'yes').send(`echo:${Buffer.concat(chunks).toString()}`);
      });
    });
    upstream = await startApp(service);
    const app = createHttpApp({
      service: 'proxy-test',
      logger: createLogger('proxy-test', 'silent'),
      metrics: createMetrics('proxy-test'),
      trustProxy: 'false',
      readiness: {},
      bodyLimit: false,
      routes: (routes) => {
        routes.use(proxyTo({ target: upstream.url, routes: (path) => path.startsWith('/p/'), logger: createLogger('proxy-test', 'silent') }));
        routes.use(proxyTo({ target: upstream.url, routes: (path) => path.startsWith('/slow/'), logger: createLogger('proxy-test', 'silent') }));
      },
    });
    gateway = await startApp(app);
  });

  afterAll(async () => {
    await Promise.all([gateway?.close(), upstream?.close()]);
  });

  it('when a client posts a body, then the upstream gets method, path, query and body unchanged, and its answer comes back whole', async () => {
    const body = JSON.stringify({ payload: 'x'.repeat(100_000) });
    const res = await request(gateway.url).post('/p/things?a=1&b=2').set('content-type', 'application/json').send(body);
    expect(res.status).toBe(201);
    expect(res.text).toBe(`echo:${body}`);
    expect(res.headers['x-upstream']).toBe('yes');
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    const got = seen.at(-1)!;
    expect(got).toMatchObject({ method: 'POST', url: '/p/things?a=1&b=2', body });
    expect(got.headers['content-type']).toBe('application/json');
  });

  it('when a client streams a chunked body, then the upstream receives all of it', async () => {
    const url = new URL('/p/chunked', gateway.url);
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'PUT' }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.on('error', reject);
      req.write('first,');
      setTimeout(() => req.end('second'), 50);
    });
    expect(answer).toEqual({ status: 201, text: 'echo:first,second' });
    expect(seen.at(-1)).toMatchObject({ method: 'PUT', body: 'first,second' });
  });

  it('when a client sends hop-by-hop and forwarding headers, then the upstream sees only the gateway\'s own', async () => {
    await request(gateway.url)
      .get('/p/headers')
      .set('x-forwarded-for', '203.0.113.7')
      .set('x-forwarded-proto', 'https')
      .set('proxy-authorization', 'Basic secret')
      .set('x-request-id', 'proxy.headers')
      .set('authorization', 'Bearer kept');
    const { headers } = seen.at(-1)!;
    expect(headers['x-forwarded-for']).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-request-id']).toBe('proxy.headers');
    expect(headers['authorization']).toBe('Bearer kept');
    expect(headers['proxy-authorization']).toBeUndefined();
  });

  it('when a path belongs to no upstream, then the request falls through to the 404 problem', async () => {
    const res = await request(gateway.url).get('/elsewhere');
    expect(res.status).toBe(404);
  });

  it('when the upstream does not answer in time, then the client gets a 502 problem', async () => {
    const slow = express();
    slow.get('/p/wait', (_req, res) => void setTimeout(() => res.end('late'), 2000));
    const slowUpstream = await startApp(slow);
    try {
      const app = createHttpApp({
        service: 'proxy-timeout',
        logger: createLogger('proxy-timeout', 'silent'),
        metrics: createMetrics('proxy-timeout'),
        trustProxy: 'false',
        readiness: {},
        bodyLimit: false,
        routes: (routes) => routes.use(proxyTo({ target: slowUpstream.url, routes: () => true, logger: createLogger('proxy-timeout', 'silent'), timeoutMs: 300 })),
      });
      const started = Date.now();
      const answer = await request(app).get('/p/wait');
      expect(answer.status).toBe(502);
      expect(answer.body).toMatchObject({ code: 'upstream_unavailable' });
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      await slowUpstream.close();
    }
  });

  it('when the client goes away before the answer, then the upstream exchange is aborted', async () => {
    const url = new URL('/slow/gone', gateway.url);
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname });
    req.on('error', () => undefined);
    req.end();
    await once(req, 'socket');
    await new Promise((r) => setTimeout(r, 200));
    req.destroy();
    await eventually(async () => closedEarly.includes('gone'), 1500);
  });
});
