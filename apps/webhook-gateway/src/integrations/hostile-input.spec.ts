import type { User } from '@saas/db';
import { createOrg, createUser, FORGED_CURSORS, PROTOTYPE_KEYS, withForbiddenKey } from '@saas/testing';
import { exampleEvent, secretOf, send, storedEvents, type GatewayUnderTest } from '../webhooks/webhooks.spec-helper';
import { bearer, call, startIntegrationsGateway } from './integrations.spec-helper';

let gw: GatewayUnderTest;
let superadmin: User;
beforeAll(async () => {
  gw = await startIntegrationsGateway();
  superadmin = await createUser(gw.runtime.db, { role: 'superadmin' });
});
afterAll(() => gw.close());

const LISTS = ['/integrations/events', '/subscriptions', '/communication-logs', '/integrations/sources'];

describe('forged list cursors', () => {
  it.each(LISTS)('when %s is given each forged cursor, then every one answers 422, never 500', async (list) => {
    const statuses: Record<string, number> = {};
    for (const [form, cursor] of Object.entries(FORGED_CURSORS)) {
      statuses[form] = (await call(gw.app.url, `${list}?cursor=${encodeURIComponent(cursor)}`, { headers: bearer(superadmin) })).status;
    }
    expect(statuses).toEqual(Object.fromEntries(Object.keys(FORGED_CURSORS).map((form) => [form, 422])));
  });
});

describe('prototype keys', () => {
  it.each(PROTOTYPE_KEYS)('when a signed webhook or an API body carries "%s" as a key, then 422 forbidden_key and nothing is stored', async (key) => {
    const org = await createOrg(gw.runtime.db);
    const admin = await createUser(gw.runtime.db, { orgId: org.id, role: 'admin' });
    for (const nested of [false, true]) {
      const event = exampleEvent('user.created', org.slug);
      const res = await send(gw.app.url, 'user-service', withForbiddenKey(event, key, nested), { secret: secretOf(gw.config, 'user_service') });
      expect({ nested, status: res.status, code: res.body.code }).toEqual({ nested, status: 422, code: 'forbidden_key' });
      expect(await storedEvents(gw.runtime, [event['event_id'] as string])).toEqual([]);
      const api = await fetch(`${gw.app.url}/integrations/sources`, {
        method: 'POST',
        headers: { ...bearer(admin), 'content-type': 'application/json' },
        body: withForbiddenKey({ service: 'user_service' }, key, nested),
      });
      expect(api.status).toBe(422);
    }
    expect((await call(gw.app.url, '/integrations/sources', { headers: bearer(admin) })).body.items).toEqual([]);
  });

  it('when a value (not a key) mentions those words, then the webhook is accepted', async () => {
    const org = await createOrg(gw.runtime.db);
    const event = exampleEvent('user.created', org.slug, { data: { user_id: 'u-proto', title: 'constructor of __proto__ prototypes' } });
    expect((await send(gw.app.url, 'user-service', event, { secret: secretOf(gw.config, 'user_service') })).status).toBe(202);
  });
});
