import { createUser, DEFAULT_TEST_PASSWORD } from '@saas/testing';
import { CuttableProxy, Processes, db, metricValue, mixedEvents, newOrg, serviceEnv, settleAndCount, stream, verdict } from './support';

afterAll(() => db.close());

async function login(base: string, email: string): Promise<{ status: number; type: string }> {
  const res = await fetch(`${base}/users/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: DEFAULT_TEST_PASSWORD }) });
  return { status: res.status, type: res.headers.get('content-type') ?? '' };
}

describe('fault: Redis is down', () => {
  it('when Redis becomes unreachable, then webhooks are still accepted (rate limiting fails open, counted in a metric) and processed exactly once, and logins fail closed with 503', async () => {
    // Redis reached through a proxy this test can cut: "down" for these services only, not for the machine.
    const redis = new CuttableProxy('127.0.0.1', Number(new URL(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379').port || 6379));
    await redis.up();
    const processes = new Processes();
    const env = serviceEnv({ REDIS_URL: `redis://127.0.0.1:${redis.port}`, WEBHOOK_RATE_LIMIT_COUNT: '1000000' });
    try {
      const org = await newOrg();
      const user = await createUser(db, { orgId: org.id });
      const [gateway, identity] = [await processes.start('webhook-gateway', env), await processes.start('identity-service', env)];
      await processes.start('integration-worker', env);
      expect((await login(identity.url, user.email)).status).toBe(200);

      await redis.down();
      const stats = await stream(mixedEvents(org.slug, 300), { targets: () => [gateway.url], concurrency: 8, batch: 5, retryForMs: 30000 });
      expect(Object.keys(stats.answers)).toEqual(['202']);
      expect(await metricValue(gateway, 'webhook_rate_limit_store_errors_total')).toBeGreaterThan(0);
      expect(await login(identity.url, user.email)).toEqual({ status: 503, type: expect.stringContaining('application/problem+json') });

      await redis.up();
      expect(verdict(await settleAndCount(org.id, stats.accepted))).toEqual({ lost: [], twice: [], stored: 300 });
    } finally {
      await redis.up().catch(() => undefined);
      await processes.stopAll();
      await redis.down();
    }
  });
});
