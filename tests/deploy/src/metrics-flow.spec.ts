import request from 'supertest';
import { createOrg, createUser, DEFAULT_TEST_PASSWORD, eventually } from '@saas/testing';
import { signedUserCreated, startStack, type Stack } from './support/stack';

/** `name{labels} value` samples of a Prometheus text exposition, and the metric families it declares. */
function parseMetrics(text: string) {
  const declared = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
  const samples = text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/.exec(l)!;
      return { name: match[1], labels: match[2] ?? '', value: Number(match[3]) };
    });
  return { declared, samples, value: (name: string, ...labels: string[]) => samples.filter((s) => s.name === name && labels.every((l) => s.labels.includes(l))).reduce((sum, s) => sum + s.value, 0) };
}

describe('metrics after a webhook flows through the platform', () => {
  let stack: Stack;

  beforeAll(async () => {
    // Queues of its own (other specs of the run publish events too), so the counts below are this flow's alone.
    // Each event's first provider call fails, so the flow also goes through one retry (50 ms rung).
    stack = await startStack({
      worker: true,
      overrides: { RABBITMQ_NAME_PREFIX: `${process.env['RABBITMQ_NAME_PREFIX']}metrics.` },
      workerOverrides: { FORCE_SERVICE_FAILURES: 1, RETRY_BACKOFF_BASE: 0.05 },
    });
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('when a signed event is accepted, retried once and processed, then each service\'s /metrics shows the series the dashboard and alerts read', async () => {
    const http = request(stack.gateway.url);
    const org = await createOrg(stack.webhooks.db);
    const { event, body, headers } = signedUserCreated(stack.webhooks.config, org.slug);
    expect((await http.post('/webhooks/user-service').set(headers).send(body)).status).toBe(202);

    const superadmin = await createUser(stack.identity.db, { role: 'superadmin' });
    const { access_token: token } = (await http.post('/users/login').send({ email: superadmin.email, password: DEFAULT_TEST_PASSWORD })).body;
    await eventually(async () => {
      const res = await http.get(`/integrations/events?org_id=${org.id}`).set('authorization', `Bearer ${token}`);
      return res.body.items?.find((e: { event_id: string; status: string }) => e.event_id === event.event_id && e.status === 'processed');
    }, 15000, 100);

    // Each app's metrics listener, as Prometheus scrapes it; the public ports do not serve /metrics.
    const scrape = async (url: string) => parseMetrics((await request(url).get('/metrics')).text);
    const gateway = await scrape(stack.gatewayMetrics.url);
    const identity = await scrape(stack.identity.app.metrics.url);
    const webhooks = await scrape(stack.webhooks.app.metrics.url);
    const worker = await scrape(stack.worker!.app.metrics.url);
    for (const publicUrl of [stack.gateway.url, stack.identity.app.server.url, stack.webhooks.app.server.url, stack.worker!.app.server.url]) {
      expect({ publicUrl, status: (await request(publicUrl).get('/metrics')).status }).toEqual({ publicUrl, status: 404 });
    }

    for (const [name, m] of [['api-gateway', gateway], ['identity-service', identity], ['webhook-gateway', webhooks]] as const) {
      expect({ name, requests: m.value('http_request_duration_seconds_count') > 0 }).toEqual({ name, requests: true });
    }
    expect(identity.value('http_request_duration_seconds_count', 'route="/users/login"', 'status="200"')).toBeGreaterThan(0);

    expect(webhooks.value('webhook_events_total', 'service="user_service"', 'result="accepted"')).toBe(1);
    expect(webhooks.value('webhook_ingest_duration_seconds_count')).toBeGreaterThan(0);
    expect(webhooks.value('webhook_outbox_published_total')).toBeGreaterThan(0);
    expect(webhooks.declared).toContain('webhook_outbox_backlog');

    expect(worker.value('integration_events_processed_total', 'service="user_service"', 'outcome="processed"')).toBe(1);
    expect(worker.value('integration_events_retried_total', 'service="user_service"')).toBe(1);
    expect(worker.value('integration_event_processing_seconds_count', 'service="user_service"')).toBe(2);
    expect(worker.value('integration_event_receipt_to_processed_seconds_count', 'service="user_service"')).toBe(1);
    expect(worker.declared).toContain('integration_events_failed_total');
    expect(worker.samples.filter((s) => s.name === 'integration_queue_depth').map((s) => s.labels)).toEqual(
      expect.arrayContaining([expect.stringContaining('integration.user_service'), expect.stringContaining('integration.dead')]),
    );
    expect(worker.samples.filter((s) => s.name === 'integration_circuit_state').length).toBe(3);
  });
});
