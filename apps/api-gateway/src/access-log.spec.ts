import { Writable } from 'node:stream';
import express from 'express';
import request from 'supertest';
import { configSchemas, loadConfig, type ApiGatewayConfig } from '@saas/config';
import { createHttpApp, createLogger, createMetrics, type Logger } from '@saas/http';
import { eventually, spawnTs, startApp, waitForExit, type StartedApp } from '@saas/testing';
import { buildGatewayApp } from './app';

interface LogLine {
  level: number;
  msg: string;
  request_id?: string;
  req?: { method: string; url: string; ip: string };
  res?: { statusCode: number };
  responseTime?: number;
  [key: string]: unknown;
}

/** A logger whose lines the test reads back. */
function capturingLogger(service: string): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: createLogger(service, 'info', sink), lines };
}

const INFO = 30;
const WARN = 40;
const ERROR = 50;

describe('access logs', () => {
  let upstream: StartedApp;
  let gateway: StartedApp;
  const { logger, lines } = capturingLogger('api-gateway');
  const lineOf = (id: string) => eventually(async () => lines.find((l) => l.request_id === id && /^request /.test(l.msg)));

  beforeAll(async () => {
    const service = express();
    service.get('/users/me', (_req, res) => {
      res.json({ id: 'me' });
    });
    service.get('/users/missing', (_req, res) => {
      res.status(404).json({ status: 404 });
    });
    service.get('/users/broken', (_req, res) => {
      res.status(500).json({ status: 500 });
    });
    upstream = await startApp(service);
    const config = loadConfig<ApiGatewayConfig>(configSchemas['api-gateway'], {
      ...process.env,
      IDENTITY_SERVICE_URL: upstream.url,
      WEBHOOK_GATEWAY_URL: upstream.url,
      INTEGRATION_WORKER_URL: upstream.url,
    });
    gateway = await startApp(buildGatewayApp({ config, logger, metrics: createMetrics('api-gateway') }));
  });

  afterAll(async () => {
    await Promise.all([gateway?.close(), upstream?.close()]);
  });

  it('when a request is proxied, then one info line carries its id, method, URL, client address, status and time, and no header', async () => {
    const res = await request(gateway.url).get('/users/me?x=1').set('x-request-id', 'access-log.1').set('authorization', 'Bearer secret-token');
    expect(res.status).toBe(200);
    const line = await lineOf('access-log.1');
    expect(line).toMatchObject({
      level: INFO,
      msg: 'request completed',
      service: 'api-gateway',
      req: { method: 'GET', url: '/users/me?x=1', ip: expect.stringMatching(/127\.0\.0\.1$/) },
      res: { statusCode: 200 },
    });
    expect(line.responseTime).toEqual(expect.any(Number));
    expect(lines.filter((l) => l.request_id === 'access-log.1')).toHaveLength(1);
    expect(JSON.stringify(line)).not.toMatch(/secret-token|headers/);
  });

  it('when the service answers 4xx or 5xx, then the line is at warn or error level', async () => {
    await request(gateway.url).get('/users/missing').set('x-request-id', 'access-log.404');
    await request(gateway.url).get('/users/broken').set('x-request-id', 'access-log.500');
    expect(await lineOf('access-log.404')).toMatchObject({ level: WARN, res: { statusCode: 404 } });
    expect(await lineOf('access-log.500')).toMatchObject({ level: ERROR, res: { statusCode: 500 } });
  });

  it('when a probe is called, then no access-log line is written for it', async () => {
    await request(gateway.url).get('/healthz').set('x-request-id', 'access-log.probe');
    await request(gateway.url).get('/users/me').set('x-request-id', 'access-log.after-probe');
    await lineOf('access-log.after-probe');
    expect(lines.some((l) => l.request_id === 'access-log.probe')).toBe(false);
  });

  it('when a handler fails, then the error line logged through req.log carries the request id', async () => {
    const captured = capturingLogger('test');
    const app = createHttpApp({
      service: 'test',
      logger: captured.logger,
      metrics: createMetrics('test'),
      trustProxy: 'false',
      readiness: {},
      routes: (routes) => {
        routes.get('/boom', () => {
          throw new Error('boom');
        });
      },
    });
    const res = await request(app).get('/boom').set('x-request-id', 'access-log.boom');
    expect(res.status).toBe(500);
    const logged = await eventually(async () => captured.lines.find((l) => l.msg === 'unhandled error'));
    expect(logged).toMatchObject({ level: ERROR, request_id: 'access-log.boom', err: { message: 'boom' } });
  });
});

describe('buffered log output', () => {
  it('when the gateway process gets SIGTERM, then the access-log lines it still held are written before it exits', async () => {
    const child = spawnTs('apps/api-gateway/src/main.ts', {
      API_GATEWAY_PORT: 0,
      METRICS_PORT: 0,
      LOG_LEVEL: 'info',
      IDENTITY_SERVICE_URL: 'http://127.0.0.1:9',
      WEBHOOK_GATEWAY_URL: 'http://127.0.0.1:9',
      INTEGRATION_WORKER_URL: 'http://127.0.0.1:9',
    });
    try {
      const port = await eventually(async () => /"port":(\d+)/.exec(child.output())?.[1]);
      const ids = ['flush.1', 'flush.2', 'flush.3'];
      for (const id of ids) expect((await fetch(`http://127.0.0.1:${port}/nowhere`, { headers: { 'x-request-id': id } })).status).toBe(404);
      child.kill('SIGTERM');
      expect(await waitForExit(child)).toBe(0);
      for (const id of ids) expect(child.output()).toContain(`"request_id":"${id}"`);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
