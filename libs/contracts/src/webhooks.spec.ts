import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ENDPOINT_OF_SERVICE, INTEGRATION_SERVICES, SERVICE_EVENT_TYPES, WEBHOOK_ENDPOINTS, checkWebhookEvent, type IntegrationService } from './webhooks';

const EXAMPLES = path.resolve(__dirname, '../../../examples/webhooks');
const example = (type: string) => JSON.parse(readFileSync(path.join(EXAMPLES, `${type}.json`), 'utf8')) as Record<string, unknown>;
const serviceOf = (type: string) => INTEGRATION_SERVICES.find((s) => SERVICE_EVENT_TYPES[s].includes(type)) as IntegrationService;

describe('webhook contract', () => {
  it('when the endpoints are mapped to services and back, then each service has exactly one endpoint', () => {
    for (const [endpoint, service] of Object.entries(WEBHOOK_ENDPOINTS)) expect(ENDPOINT_OF_SERVICE[service]).toBe(endpoint);
    expect(Object.keys(ENDPOINT_OF_SERVICE).sort()).toEqual([...INTEGRATION_SERVICES].sort());
  });

  const types = INTEGRATION_SERVICES.flatMap((s) => [...SERVICE_EVENT_TYPES[s]]);
  it.each(types)('when the example %s is checked for its service, then it passes and keeps unknown fields', (type) => {
    const event = { ...example(type), provider_extension: { x: 1 } };
    const check = checkWebhookEvent(serviceOf(type), event);
    expect(check.ok).toBe(true);
    if (check.ok) expect(JSON.parse(check.json).provider_extension).toEqual({ x: 1 });
  });

  it('when every example file is listed, then each event type has one and nothing else but the batch is there', () => {
    expect(readdirSync(EXAMPLES).sort()).toEqual([...types.map((t) => `${t}.json`), 'batch.user-service.json'].sort());
  });

  it('when an event type is sent to another service, then it is unknown_event_type', () => {
    const check = checkWebhookEvent('communication_service', example('user.created'));
    expect(check).toMatchObject({ ok: false, code: 'unknown_event_type', eventId: 'evt_example_user_created' });
  });

  it.each([
    ['payment.failed', { amount: -1 }, 'data.amount'],
    ['payment.failed', { currency: 'dollars' }, 'data.currency'],
    ['subscription.created', { plan: 'gold' }, 'data.plan'],
    ['subscription.updated', { billing_cycle: 'weekly' }, 'data.billing_cycle'],
    ['message.bounced', { recipient: 'nobody' }, 'data.recipient'],
    ['user.updated', { user_id: '' }, 'data.user_id'],
  ])('when a %s carries %j, then it is invalid_event at %s', (type, change, pathExpected) => {
    const event = example(type);
    const check = checkWebhookEvent(serviceOf(type), { ...event, data: { ...(event['data'] as object), ...change } });
    expect(check).toMatchObject({ ok: false, code: 'invalid_event', errors: [expect.objectContaining({ path: pathExpected })] });
  });

  it('when the envelope misses metadata.source, then it is invalid_event at that path', () => {
    const check = checkWebhookEvent('user_service', { ...example('user.created'), metadata: { version: '1.0' } });
    expect(check).toMatchObject({ ok: false, errors: [expect.objectContaining({ path: 'metadata.source' })] });
  });
});
