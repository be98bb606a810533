import { performance } from 'node:perf_hooks';
import { createOrg, unique } from '@saas/testing';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './body';
import { exampleEvent, secretOf, send, startGateway, type GatewayUnderTest } from './webhooks.spec-helper';

let gw: GatewayUnderTest;
let orgSlug: string;

beforeAll(async () => {
  gw = await startGateway({ RABBITMQ_NAME_PREFIX: `${process.env['RABBITMQ_NAME_PREFIX']}${unique('bound')}.`, WEBHOOK_RATE_LIMIT_COUNT: 100000 });
  orgSlug = (await createOrg(gw.runtime.db)).slug;
});
afterAll(() => gw.close());

const MIB = 1024 * 1024;
/** A body of the largest accepted size, nested as deep as it can be: the costliest shape for a JSON parser. */
const deepBody = (bytes = MIB) => '['.repeat(bytes / 2) + ']'.repeat(bytes / 2);

function unsigned(body: string) {
  return fetch(`${gw.app.url}/webhooks/user-service`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'webhook-id': 'msg_x', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v1,Zm9yZ2Vk' },
    body,
  });
}

async function smallWebhookMs(): Promise<number> {
  const started = performance.now();
  const res = await send(gw.app.url, 'user-service', exampleEvent('user.created', orgSlug), { secret: secretOf(gw.config, 'user_service') });
  expect(res.status).toBe(202);
  return performance.now() - started;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

describe('work an unsigned webhook can cause', () => {
  it('when an unsigned 1 MiB body of nested arrays arrives, then it answers 401 and the body never reaches the JSON parser', async () => {
    const parse = jest.spyOn(JSON, 'parse');
    try {
      const res = await unsigned(deepBody());
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe('invalid_signature');
      const bigParses = parse.mock.calls.filter(([text]) => typeof text === 'string' && text.length > 1000);
      expect(bigParses).toEqual([]);
    } finally {
      parse.mockRestore();
    }
  });

  it('when four such bodies are in flight, then a small signed webhook is not held up by them (within a few ms of its unloaded time on a quiet machine)', async () => {
    for (let i = 0; i < 3; i++) await smallWebhookMs(); // warm
    const unloaded = median(await Promise.all(Array.from({ length: 5 }, () => smallWebhookMs())));
    const attacks = Array.from({ length: 4 }, () => unsigned(deepBody()).then((r) => r.status));
    const loaded = median(await Promise.all(Array.from({ length: 5 }, () => smallWebhookMs())));
    expect(await Promise.all(attacks)).toEqual([401, 401, 401, 401]);
    // Parsing one such body blocked the event loop 360-510 ms before the signature was checked first, so four in flight
    // took a small webhook from ~25 ms to ~2 s. Alone on the machine the difference is a few ms; the bound leaves room
    // for CI running other suites beside this one, and still fails by an order of magnitude against the old order.
    expect(loaded - unloaded).toBeLessThan(150);
  });

  it('when a signed body nests deeper than 64 levels, then 400 body_too_deep; at 64 levels it is parsed and validated', async () => {
    const secret = secretOf(gw.config, 'user_service');
    const nested = (depth: number) => ({ ...exampleEvent('user.created', orgSlug), data: { user_id: 'u1', extra: JSON.parse('['.repeat(depth - 2) + ']'.repeat(depth - 2)) } });
    const tooDeep = await send(gw.app.url, 'user-service', nested(MAX_JSON_DEPTH + 1), { secret });
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body.code).toBe('body_too_deep');
    expect((await send(gw.app.url, 'user-service', nested(MAX_JSON_DEPTH), { secret })).status).toBe(202);
  });

  it('when a signed body is not JSON, is a bare value or is over the size limit, then 400, 400 and 413', async () => {
    const secret = secretOf(gw.config, 'user_service');
    expect((await send(gw.app.url, 'user-service', '{"event_id": ', { secret })).body.code).toBe('malformed_json');
    expect((await send(gw.app.url, 'user-service', '"a string"', { secret })).status).toBe(400);
    expect((await unsigned(deepBody(MIB + 2))).status).toBe(413);
  });
});

describe('nestsDeeperThan', () => {
  it('when brackets sit inside strings, even after escaped quotes, then they do not count', () => {
    expect(nestsDeeperThan(Buffer.from('{"a": "[[[[", "b": "\\"[[[["}'), 1)).toBe(false);
    expect(nestsDeeperThan(Buffer.from('{"a": [[1]]}'), 2)).toBe(true);
    expect(nestsDeeperThan(Buffer.from('{"a": [[1]]}'), 3)).toBe(false);
  });
});

describe('platform endpoints', () => {
  it('when a platform secret is empty, then that endpoint answers 404 and the others still work', async () => {
    const off = await startGateway({ RABBITMQ_NAME_PREFIX: `${process.env['RABBITMQ_NAME_PREFIX']}${unique('off')}.`, WEBHOOK_SECRET_PAYMENT_SERVICE: '' });
    try {
      const res = await send(off.app.url, 'payment-service', exampleEvent('subscription.created', orgSlug), { secret: secretOf(gw.config, 'payment_service') });
      expect(res.status).toBe(404);
      expect((await send(off.app.url, 'user-service', exampleEvent('user.created', orgSlug), { secret: secretOf(off.config, 'user_service') })).status).toBe(202);
    } finally {
      await off.close();
    }
  });
});
