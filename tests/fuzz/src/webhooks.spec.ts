import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import fc from 'fast-check';
import type { WebhookGatewayConfig } from '@saas/config';
import type { Organization } from '@saas/db';
import { createRuntime, type ServiceRuntime } from '@saas/runtime';
import { createOrg, startApp, testConfig, type StartedApp } from '@saas/testing';
// The app exposes no library; the fuzz test assembles it from its source, as its own tests do.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { buildWebhookApp, createWebhookComponents } from '../../../apps/webhook-gateway/src/app';
// Signed-event helpers shared with the benches (bench/ is no Nx project, so no alias reaches it).
// eslint-disable-next-line @nx/enforce-module-boundaries
import { sampleEvent, signWebhook, WEBHOOK_ENDPOINTS, webhookSecret, type WebhookEndpoint } from '../../../bench/lib/webhooks';
import { assertWithHeapGrowth, hostileStrings, problemsWith, rowCounts, send, weirdValue } from './support';

const MAX_BATCH = 20;
const MAX_BODY = 16 * 1024;
const RUNS = Number(process.env['FUZZ_WEBHOOK_RUNS'] ?? 7000);
const WARM_UP = 600;
const HEAP_TOLERANCE_MB = 24;

type Json = unknown;
type Mutation = (event: Record<string, Json>) => Json;

let runtime: ServiceRuntime<WebhookGatewayConfig>;
let app: StartedApp;
let active: Organization;
let suspended: Organization;

beforeAll(async () => {
  // Small limits so that "oversized" and "too many events" cost kilobytes, not megabytes, per generated case.
  const config = testConfig<WebhookGatewayConfig>('webhook-gateway', {
    WEBHOOK_MAX_BATCH: MAX_BATCH,
    WEBHOOK_MAX_BODY_BYTES: MAX_BODY,
    WEBHOOK_RATE_LIMIT_COUNT: 100_000_000,
  });
  runtime = createRuntime({ service: 'webhook-gateway', config });
  runtime.broker.channel.on('error', () => undefined);
  if (runtime.redis.status !== 'ready') await Promise.race([once(runtime.redis, 'ready'), delay(2000)]);
  app = await startApp(buildWebhookApp(runtime, createWebhookComponents(runtime)), runtime.close);
  [active, suspended] = [await createOrg(runtime.db), await createOrg(runtime.db, { status: 'suspended' })];
});

afterAll(() => app?.close());

const secretOf = (endpoint: WebhookEndpoint) => webhookSecret(runtime.config as unknown as Record<string, string>, endpoint);

// ---- generators --------------------------------------------------------------------------------------------

const ENVELOPE_KEYS = ['event_id', 'event_type', 'timestamp', 'organization_id', 'metadata', 'data'];

function orgRefs(): fc.Arbitrary<string> {
  return fc.constantFrom(active.slug, active.id, ` ${active.slug} `, active.slug.toUpperCase(), suspended.slug, suspended.id, 'no-such-org', '00000000-0000-0000-0000-000000000000');
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.constant((e: Record<string, Json>) => e) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...ENVELOPE_KEYS), weirdValue).map(([k, v]) => (e: Record<string, Json>) => ({ ...e, [k]: v })) },
  { weight: 2, arbitrary: fc.constantFrom(...ENVELOPE_KEYS).map((k) => (e: Record<string, Json>) => Object.fromEntries(Object.entries(e).filter(([key]) => key !== k))) },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.nat(), weirdValue).map(([i, v]) => (e: Record<string, Json>) => {
      const data = e['data'] as Record<string, Json>;
      const keys = Object.keys(data);
      return { ...e, data: { ...data, [keys[i % keys.length]!]: v } };
    }),
  },
  { weight: 1, arbitrary: fc.tuple(fc.string(), weirdValue).map(([k, v]) => (e: Record<string, Json>) => ({ ...e, [k]: v, data: { ...(e['data'] as object), [k]: v } })) },
  { weight: 1, arbitrary: fc.oneof(fc.string(), hostileStrings).map((t) => (e: Record<string, Json>) => ({ ...e, event_type: t })) },
  { weight: 1, arbitrary: fc.date({ noInvalidDate: false }).map((d) => (e: Record<string, Json>) => ({ ...e, timestamp: Number.isNaN(d.getTime()) ? 'not-a-date' : d.toISOString() })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }).map((id) => (e: Record<string, Json>) => ({ ...e, event_id: id })) },
);

const event = (endpoint: WebhookEndpoint) =>
  fc.tuple(orgRefs(), mutation, fc.string({ minLength: 1, maxLength: 12 })).map(([org, mutate, entity]) =>
    mutate(sampleEvent(endpoint, { orgSlug: org, entity: entity.replace(/[^\w]/g, '_') || 'e' })),
  );

const deepNesting = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

/** The body text (or bytes) of one request. */
const body = (endpoint: WebhookEndpoint): fc.Arbitrary<string | Uint8Array> =>
  fc.oneof(
    { weight: 5, arbitrary: event(endpoint).map((e) => JSON.stringify(e)) },
    { weight: 3, arbitrary: fc.array(event(endpoint), { maxLength: MAX_BATCH }).map((events) => JSON.stringify({ events })) },
    { weight: 1, arbitrary: fc.array(event(endpoint), { minLength: MAX_BATCH + 1, maxLength: MAX_BATCH + 5 }).map((events) => JSON.stringify({ events })) },
    { weight: 1, arbitrary: weirdValue.map((events) => JSON.stringify({ events })) },
    { weight: 2, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 400 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 400 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '{"__proto__": {"polluted": "yes"}, "event_id": "e1"}',
        '{"constructor": {"prototype": {"polluted": "yes"}}}',
        '{"events": [{"__proto__": {"polluted": "yes"}}]}',
        '{"event_id": "a", "event_id": "b"}',
        deepNesting(2000),
        `[${'['.repeat(3000)}${']'.repeat(3000)}]`,
        '{"events": null}',
        '{"events": {}}',
        '{"events": "x"}',
        'null',
        '"string"',
        '123',
        '',
        '{',
        `{"pad": "${'x'.repeat(MAX_BODY + 10)}"}`,
      ),
    },
  );

type Signing = 'signed' | 'unsigned' | 'wrong-secret' | 'stale' | 'future' | 'tampered';
const signing = fc.constantFrom<Signing>('signed', 'signed', 'signed', 'signed', 'signed', 'signed', 'unsigned', 'wrong-secret', 'stale', 'future', 'tampered');
const contentType = fc.constantFrom('application/json', 'application/json', 'application/json', 'application/json; charset=utf-8', 'application/cloudevents+json', 'text/plain', 'application/x-www-form-urlencoded', 'none');

function headersFor(endpoint: WebhookEndpoint, text: string | Uint8Array, how: Signing, type: string): Record<string, string> {
  const raw = typeof text === 'string' ? text : Buffer.from(text).toString('latin1');
  const secret = how === 'wrong-secret' ? 'whsec_d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZw==' : secretOf(endpoint);
  const at = how === 'stale' ? new Date(Date.now() - 3600_000) : how === 'future' ? new Date(Date.now() + 3600_000) : new Date();
  const signed = how === 'unsigned' ? {} : signWebhook(secret, how === 'tampered' ? `${raw} ` : raw, { at });
  const headers: Record<string, string> = { ...signed };
  delete headers['content-type'];
  if (type !== 'none') headers['content-type'] = type;
  return headers;
}

/** The rows a 202 answer says it wrote: one per `accepted` event. */
function acceptedBy(status: number, text: string): number {
  if (status !== 202) return 0;
  const answer = JSON.parse(text) as { result?: string; accepted?: number };
  return typeof answer.accepted === 'number' ? answer.accepted : answer.result === 'accepted' ? 1 : 0;
}

const request = fc.constantFrom(...WEBHOOK_ENDPOINTS).chain((endpoint) => fc.record({ endpoint: fc.constant(endpoint), body: body(endpoint), signing, contentType }));

const property = fc.asyncProperty(request, async ({ endpoint, body: text, signing: how, contentType: type }) => {
  const before = (await rowCounts(runtime.db, ['webhook_events'])).webhook_events;
  // Signed bytes must be the bytes sent: binary bodies go as bytes, text as UTF-8.
  const bytes = typeof text === 'string' ? text : Buffer.from(Buffer.from(text).toString('latin1'), 'latin1');
  const answer = await send(`${app.url}/webhooks/${endpoint}`, { method: 'POST', headers: headersFor(endpoint, text, how, type), body: bytes });
  const problem = problemsWith(answer);
  if (problem) throw new Error(problem);
  if (answer.status === 202 && how !== 'signed') throw new Error(`a ${how} request was accepted`);
  const after = (await rowCounts(runtime.db, ['webhook_events'])).webhook_events;
  const expected = acceptedBy(answer.status, answer.text);
  if (after - before !== expected) throw new Error(`answered ${answer.status} (${expected} accepted) but ${after - before} rows were written`);
});

describe('webhook ingestion under generated hostile input', () => {
  it(`when ${RUNS} generated malformed, oversized, wrongly typed and hostile bodies (signed and not) are posted, then none answers 5xx, every error is problem+json, rows written equal the events accepted, and the heap stays flat`, async () => {
    const heapGrowthMb = await assertWithHeapGrowth(property, RUNS, WARM_UP);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(heapGrowthMb).toBeLessThan(HEAP_TOLERANCE_MB);
  });
});
