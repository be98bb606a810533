#!/usr/bin/env node
// Headless-Chromium check of Swagger UI on a running gateway (e.g. after `npm start`):
//   node tests/deploy/browser/swagger-login.mjs [--url http://localhost:8000] [--screenshot /tmp/docs.png]
// Opens /docs, checks that every operation of /openapi.json is shown, logs in with "Authorize" (OAuth2 password flow
// against POST /users/login, SUPERADMIN_EMAIL / SUPERADMIN_PASSWORD), runs "Try it out" on GET /users/me through the
// gateway and expects 200 with the superadmin's profile. Exits non-zero, saying what failed, otherwise.
// Needs Debian's `chromium` (apt-get install chromium; no browser download) or CHROMIUM_PATH; uses playwright-core.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.GATEWAY_URL ?? `http://127.0.0.1:${process.env.API_GATEWAY_PORT ?? 8000}` },
    screenshot: { type: 'string' },
  },
});
const base = values.url.replace(/\/$/, '');
const email = process.env.SUPERADMIN_EMAIL ?? 'superadmin@example.com';
const password = process.env.SUPERADMIN_PASSWORD ?? 'ChangeMe-Superadmin-1';
const executablePath = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!executablePath) {
  console.error('✗ no Chromium: apt-get install chromium, or set CHROMIUM_PATH');
  process.exit(2);
}

const step = (message) => console.log(`→ ${message}`);
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
let failed = false;
try {
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on('console', (msg) => msg.type() === 'error' && consoleErrors.push(msg.text()));
  page.on('pageerror', (err) => consoleErrors.push(err.message));

  step(`open ${base}/docs`);
  await page.goto(`${base}/docs`, { waitUntil: 'networkidle' });
  await page.locator('.swagger-ui .opblock').first().waitFor({ timeout: 15000 });

  const spec = await (await fetch(`${base}/openapi.json`)).json();
  const expected = Object.values(spec.paths).flatMap((item) => Object.keys(item).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))).length;
  const shown = await page.locator('.swagger-ui .opblock').count();
  step(`operations shown: ${shown} of ${expected} in /openapi.json`);
  if (shown !== expected) throw new Error(`Swagger UI shows ${shown} operations, the document has ${expected}`);

  step(`Authorize as ${email} (OAuth2 password flow → POST /users/login)`);
  await page.locator('.swagger-ui .auth-wrapper .authorize').click();
  const dialog = page.locator('.swagger-ui .dialog-ux .modal-ux');
  // The dialog lists every scheme (bearer token, OAuth2 password); use the OAuth2 one.
  const oauth = dialog.locator('.auth-container').filter({ has: page.locator('#oauth_username') });
  await oauth.locator('#oauth_username').fill(email);
  await oauth.locator('#oauth_password').fill(password);
  const [login] = await Promise.all([
    page.waitForResponse((res) => res.url().endsWith('/users/login') && res.request().method() === 'POST', { timeout: 10000 }),
    oauth.locator('.auth-btn-wrapper .authorize').click(),
  ]);
  step(`POST /users/login answered ${login.status()}`);
  if (login.status() !== 200) throw new Error(`login through Swagger UI answered ${login.status()}: ${await login.text()}`);
  await dialog.locator('.modal-ux-header .close-modal').click();

  step('Try it out: GET /users/me');
  const operation = page.locator('.swagger-ui .opblock-get').filter({ has: page.locator('.opblock-summary-path[data-path="/users/me"]') });
  await operation.locator('.opblock-summary').click();
  await operation.locator('.try-out__btn').click();
  const [me] = await Promise.all([
    page.waitForResponse((res) => new URL(res.url()).pathname === '/users/me' && res.request().method() === 'GET'),
    operation.locator('.execute').click(),
  ]);
  const shownStatus = (await operation.locator('.live-responses-table .response .response-col_status').first().innerText()).trim();
  const body = await me.json().catch(() => ({}));
  step(`GET /users/me answered ${me.status()} (Swagger UI shows ${shownStatus}), email ${body.email}`);
  if (me.status() !== 200 || shownStatus !== '200' || body.email !== email) throw new Error('GET /users/me through Swagger UI did not return the logged-in profile');
  if (!me.request().headers()['authorization']?.startsWith('Bearer ')) throw new Error('the request carried no bearer token');
  if (consoleErrors.length) throw new Error(`browser console errors (CSP?):\n  ${consoleErrors.join('\n  ')}`);
  if (values.screenshot) await page.screenshot({ path: values.screenshot, fullPage: false });
  console.log('✓ /docs shows every operation; Authorize + Try it out of GET /users/me returned 200');
} catch (err) {
  failed = true;
  console.error(`✗ ${err.message}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
