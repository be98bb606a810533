import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { createOrg } from '@saas/testing';
import { EXAMPLES_DIR, startGateway, type GatewayUnderTest } from './webhooks.spec-helper';

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
});
