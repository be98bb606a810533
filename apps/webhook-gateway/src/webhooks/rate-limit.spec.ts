import net from 'node:net';
import type { Request } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import type { ApiGatewayConfig } from '@saas/config';
import { createLogger, createMetrics, createMetricsApp } from '@saas/http';
// The api-gateway app is the one real hop in front of webhook-gateway; tests wire the two as deployed.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { buildGatewayApp } from '../../../api-gateway/src/app';
import { createOrg, eventually, freePort, startApp, testConfig, unique } from '@saas/testing';
import { memoizedIpKey } from './rate-limit';
import { exampleEvent, secretOf, send, startGateway, type GatewayUnderTest } from './webhooks.spec-helper';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A Redis key prefix of this test alone, under the run's prefix, so each test starts with a fresh count. */
const ownPrefix = () => `${process.env['REDIS_KEY_PREFIX']}${unique('rl')}:`;

async function gateway(overrides: Record<string, string | number>): Promise<GatewayUnderTest> {
  const gw = await startGateway(overrides);
  cleanups.push(() => gw.close());
  return gw;
}

async function deliver(baseUrl: string, gw: GatewayUnderTest, orgSlug: string, headers: Record<string, string> = {}) {
  return send(baseUrl, 'user-service', exampleEvent('user.created', orgSlug), { secret: secretOf(gw.config, 'user_service'), headers });
}

describe('rate limit per client IP', () => {
  it('when addresses repeat, then each gets the key ipKeyGenerator gives: IPv4-mapped as IPv4, IPv6 by its /56', () => {
    const keyOf = memoizedIpKey();
    const request = (ip: string) => ({ ip, socket: {} }) as unknown as Request;
    const addresses = ['203.0.113.7', '::ffff:203.0.113.7', '::1', '2001:db8:1:100::1', '2001:db8:1:1ff::2', '2001:db8:1:200::1'];
    for (const round of [1, 2]) {
      expect({ round, keys: addresses.map((ip) => keyOf(request(ip))) }).toEqual({ round, keys: addresses.map((ip) => ipKeyGenerator(ip)) });
    }
    expect(keyOf(request('::ffff:203.0.113.7'))).toBe('203.0.113.7');
    expect(keyOf(request('2001:db8:1:1ff::2'))).toBe(keyOf(request('2001:db8:1:100::1')));
    expect(keyOf(request('2001:db8:1:200::1'))).not.toBe(keyOf(request('2001:db8:1:100::1')));
  });

  it('when a client sends one request more than the limit through api-gateway, then it is 429 with Retry-After and RateLimit headers, spoofed X-Forwarded-For or not', async () => {
    const gw = await gateway({ WEBHOOK_RATE_LIMIT_COUNT: 5, WEBHOOK_RATE_LIMIT_PERIOD: 60, REDIS_KEY_PREFIX: ownPrefix() });
    const front = await startApp(
      buildGatewayApp({
        config: testConfig<ApiGatewayConfig>('api-gateway', { WEBHOOK_GATEWAY_URL: gw.app.url }),
        logger: createLogger('api-gateway', 'silent'),
        metrics: createMetrics('api-gateway'),
      }),
    );
    cleanups.push(() => front.close());
    const org = await createOrg(gw.runtime.db);

    for (let i = 0; i < 5; i++) {
      // Each request pretends to come from another address: the gateway replaces the header with the real one.
      const res = await deliver(front.url, gw, org.slug, { 'x-forwarded-for': `203.0.113.${i}` });
      expect(res.status).toBe(202);
      expect(res.headers.get('ratelimit-remaining')).toBe(String(4 - i));
    }
    const limited = await deliver(front.url, gw, org.slug, { 'x-forwarded-for': '198.51.100.77' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(limited.body.code).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('ratelimit-limit')).toBe('5');
    expect(limited.headers.get('ratelimit-remaining')).toBe('0');
    expect(Number(limited.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
  });

  it('when a peer that is not api-gateway sends a forged X-Forwarded-For straight to webhook-gateway, then every request counts against its socket address', async () => {
    // api-gateway is "10.9.9.9": this test client (127.0.0.1) is any other pod connecting directly.
    const gw = await gateway({ TRUST_PROXY: '10.9.9.9', WEBHOOK_RATE_LIMIT_COUNT: 3, WEBHOOK_RATE_LIMIT_PERIOD: 60, REDIS_KEY_PREFIX: ownPrefix() });
    const org = await createOrg(gw.runtime.db);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await deliver(gw.app.url, gw, org.slug, { 'x-forwarded-for': `203.0.113.${i}` })).status);
    expect(statuses).toEqual([202, 202, 202, 429]);
  });

  it('when two webhook-gateway instances share Redis, then they share one limit', async () => {
    const shared = { WEBHOOK_RATE_LIMIT_COUNT: 4, WEBHOOK_RATE_LIMIT_PERIOD: 'minute', REDIS_KEY_PREFIX: ownPrefix() };
    const [a, b] = [await gateway(shared), await gateway(shared)];
    const org = await createOrg(a.runtime.db);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const target = i % 2 ? b : a;
      statuses.push((await deliver(target.app.url, target, org.slug)).status);
    }
    expect(statuses).toEqual([202, 202, 202, 202, 429]);
  });

  it('when Redis is unavailable, then webhooks are still accepted (fail open) and the failure is counted', async () => {
    const gw = await gateway({ REDIS_URL: 'redis://127.0.0.1:1', WEBHOOK_RATE_LIMIT_COUNT: 1 });
    const org = await createOrg(gw.runtime.db);
    const statuses = [(await deliver(gw.app.url, gw, org.slug)).status, (await deliver(gw.app.url, gw, org.slug)).status];
    expect(statuses).toEqual([202, 202]);
    const metricsListener = await startApp(createMetricsApp(gw.runtime.metrics.registry));
    cleanups.push(() => metricsListener.close());
    const metrics = await (await fetch(`${metricsListener.url}/metrics`)).text();
    expect(metrics).toMatch(/webhook_rate_limit_store_errors_total\{[^}]*\} [2-9]/);
  });

  it('when Redis was unreachable at start and becomes reachable, then the limit applies again (its scripts are loaded then)', async () => {
    const port = await freePort();
    const redisUrl = new URL(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');
    const gw = await gateway({ REDIS_URL: Object.assign(new URL(redisUrl), { port: String(port) }).toString(), WEBHOOK_RATE_LIMIT_COUNT: 2, REDIS_KEY_PREFIX: ownPrefix() });
    const org = await createOrg(gw.runtime.db);
    expect((await deliver(gw.app.url, gw, org.slug)).status).toBe(202);
    // Redis "comes back": a TCP relay to the real one on the address the gateway was given
    const sockets = new Set<net.Socket>();
    const relay = net.createServer((client) => {
      const upstream = net.connect(Number(redisUrl.port || 6379), redisUrl.hostname);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('error', () => sockets.forEach((s) => s.destroy()));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => relay.listen(port, '127.0.0.1', resolve));
    cleanups.push(async () => {
      sockets.forEach((socket) => socket.destroy());
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    });
    await eventually(async () => gw.runtime.redis.status === 'ready', 15000);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await deliver(gw.app.url, gw, org.slug)).status);
    expect(statuses).toEqual([202, 202, 429]);
  });
});
