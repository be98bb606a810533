import type { WebhookGatewayConfig } from '@saas/config';
import { Database } from '@saas/db';
import { createOrg, eventually, freePort, spawnTs, testConfig, waitForExit } from '@saas/testing';
import { exampleEvent, secretOf, send, storedEvents } from './webhooks.spec-helper';

const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 2 });
afterAll(() => db.close());

describe('webhook-gateway process', () => {
  it('when SIGTERM arrives right after webhooks were answered 202, then the process publishes and marks them before it exits 0', async () => {
    const port = await freePort();
    const child = spawnTs('apps/webhook-gateway/src/main.ts', { WEBHOOK_GATEWAY_PORT: port, LOG_LEVEL: 'warn' });
    try {
      const url = `http://127.0.0.1:${port}`;
      await eventually(async () => (await fetch(`${url}/readyz`)).ok, 40000, 200);
      const org = await createOrg(db);
      const secret = secretOf(testConfig<WebhookGatewayConfig>('webhook-gateway'), 'communication_service');
      const events = Array.from({ length: 20 }, () => exampleEvent('message.delivered', org.slug));
      const answers = await Promise.all(events.map((e) => send(url, 'communication-service', e, { secret })));
      expect(answers.map((a) => a.status)).toEqual(events.map(() => 202));
      child.kill('SIGTERM');
      expect(await waitForExit(child, 30000)).toBe(0);
      const rows = await storedEvents({ db }, events.map((e) => String(e['event_id'])));
      expect(rows.filter((r) => !r.in_outbox)).toHaveLength(20);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 90000);
});
