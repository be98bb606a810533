import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { createOrg, createUser } from '@saas/testing';
import { bearer, call } from '../integrations/integrations.spec-helper';
import { EXAMPLES_DIR, startGateway, storedEvents, type GatewayUnderTest } from './webhooks.spec-helper';

const run = promisify(execFile);
const SCRIPT = path.resolve(__dirname, '../../../../scripts/webhook-send.mjs');

let gw: GatewayUnderTest;
/** The script signs with the gateway's secrets, whatever a developer's .env says. */
const secrets = () => ({
  ...process.env,
  WEBHOOK_SECRET_USER_SERVICE: gw.config.WEBHOOK_SECRET_USER_SERVICE,
  WEBHOOK_SECRET_PAYMENT_SERVICE: gw.config.WEBHOOK_SECRET_PAYMENT_SERVICE,
  WEBHOOK_SECRET_COMMUNICATION_SERVICE: gw.config.WEBHOOK_SECRET_COMMUNICATION_SERVICE,
});
beforeAll(async () => {
  gw = await startGateway();
});
afterAll(() => gw.close());

describe('npm run webhook:send', () => {
  it('when every example is sent for an organization, then each answers 202 with its events accepted', async () => {
    const org = await createOrg(gw.runtime.db);
    const files = readdirSync(EXAMPLES_DIR).map((f) => path.join(EXAMPLES_DIR, f));
    const { stdout } = await run(process.execPath, [SCRIPT, ...files, '--org', org.slug, '--url', gw.app.url], { env: secrets() });
    const statuses = [...stdout.matchAll(/→ (\d{3})/g)].map((m) => m[1]);
    expect(statuses).toEqual(files.map(() => '202'));
    expect(stdout).toMatch(/"accepted": 3/);
  });

  it('when an example is sent twice with --keep-id, then the second answer is a duplicate', async () => {
    const org = await createOrg(gw.runtime.db);
    const file = path.join(EXAMPLES_DIR, 'payment.failed.json');
    const { stdout } = await run(process.execPath, [SCRIPT, file, '--org', org.slug, '--url', gw.app.url, '--keep-id', '--repeat', '2'], { env: secrets() });
    expect([...stdout.matchAll(/"result": "(\w+)"/g)].map((m) => m[1])).toEqual(['accepted', 'duplicate']);
  });

  it('when sent with --source and its secret, then the events go to the source’s organization without naming it', async () => {
    const org = await createOrg(gw.runtime.db);
    const admin = await createUser(gw.runtime.db, { orgId: org.id, role: 'admin' });
    const source = (await call(gw.app.url, '/integrations/sources', { method: 'POST', headers: bearer(admin), body: { service: 'user_service' } })).body;
    const file = path.join(EXAMPLES_DIR, 'user.created.json');
    const { stdout } = await run(process.execPath, [SCRIPT, file, '--url', gw.app.url, '--source', source.id, '--secret', source.secret], { env: secrets() });
    expect(stdout).toContain(`/webhooks/user-service/${source.id}`);
    const eventId = /"event_id": "([^"]+)"/.exec(stdout)?.[1] as string;
    expect((await storedEvents(gw.runtime, [eventId]))[0]?.org_id).toBe(org.id);
  });

  it('when --source comes without --secret, then it stops with a message naming what is missing', async () => {
    await expect(run(process.execPath, [SCRIPT, path.join(EXAMPLES_DIR, 'user.created.json'), '--source', '5b0e7f7c-6c1e-4c47-9d8e-0e8f3f1d2a10'])).rejects.toMatchObject({
      stderr: expect.stringContaining('--source needs --secret'),
    });
  });
});
