#!/usr/bin/env node
// `npm run webhook:send -- <file.json>… [options]`: sends Standard Webhooks-signed events to the platform, as the
// external user, payment and communication services would. See `--help`.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseEnv, parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const { Webhook } = require('standardwebhooks');

const HELP = `Usage: npm run webhook:send -- <file.json>… [options]

Each file holds one event {event_id, event_type, timestamp, organization_id, metadata, data} or a batch {"events": […]}
(see examples/webhooks/). The endpoint follows from the event type unless --endpoint is given.

Options
  --org <slug|uuid>     organization to send for (replaces organization_id; default: as in the file)
  --url <base>          where to send (default http://localhost:$API_GATEWAY_PORT, i.e. through api-gateway on 8000)
  --endpoint <name>     user-service | payment-service | communication-service
  --secret <whsec_…>    signing secret (default WEBHOOK_SECRET_<SERVICE> from the environment or .env, else the development default;
                        with --source: required, the source's secret)
  --source <id>         send to an integration source's endpoint /webhooks/<endpoint>/<id> (POST /integrations/sources);
                        the source decides the organization, so organization_id is left out unless --org is given
  --keep-id             send the file's event_id as is (send twice to see "duplicate"); default: a fresh id per send
  --keep-timestamp      send the file's timestamp as is; default: now
  --repeat <n>          send each file n times (default 1)
  --help

Examples
  npm start                                  # in another terminal
  npm run webhook:send -- examples/webhooks/user.created.json --org acme
  npm run webhook:send -- examples/webhooks/batch.user-service.json --org acme
  npm run webhook:send -- examples/webhooks/payment.failed.json --org acme --keep-id --repeat 2
  npm run webhook:send -- examples/webhooks/user.created.json --source 5b0e…a10 --secret whsec_…`;

// The development defaults of libs/config (DEV_SECRETS), for a fresh `npm start` without a .env.
const DEV_SECRETS = {
  'user-service': 'whsec_ZGV2LXVzZXItc2VydmljZS1zZWNyZXQtMDEyMzQ1Njc4OQ==',
  'payment-service': 'whsec_ZGV2LXBheW1lbnQtc2VydmljZS1zZWNyZXQtMDEyMzQ1Ng==',
  'communication-service': 'whsec_ZGV2LWNvbW11bmljYXRpb24tc2VydmljZS1zZWNyZXQtMA==',
};
const SECRET_VARIABLE = {
  'user-service': 'WEBHOOK_SECRET_USER_SERVICE',
  'payment-service': 'WEBHOOK_SECRET_PAYMENT_SERVICE',
  'communication-service': 'WEBHOOK_SECRET_COMMUNICATION_SERVICE',
};

function endpointFor(eventType) {
  if (/^user\./.test(eventType)) return 'user-service';
  if (/^(subscription|payment)\./.test(eventType)) return 'payment-service';
  if (/^message\./.test(eventType)) return 'communication-service';
  return undefined;
}

function fail(message) {
  console.error(`webhook:send: ${message}`);
  process.exit(2);
}

const { values: opts, positionals: files } = parseArgs({
  allowPositionals: true,
  options: {
    org: { type: 'string' },
    url: { type: 'string' },
    endpoint: { type: 'string' },
    secret: { type: 'string' },
    source: { type: 'string' },
    'keep-id': { type: 'boolean', default: false },
    'keep-timestamp': { type: 'boolean', default: false },
    repeat: { type: 'string', default: '1' },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help || !files.length) {
  console.log(HELP);
  process.exit(opts.help ? 0 : 2);
}

const fileEnv = existsSync('.env') ? parseEnv(readFileSync('.env', 'utf8')) : {};
const env = { ...fileEnv, ...process.env };
const base = (opts.url ?? `http://localhost:${env.API_GATEWAY_PORT || 8000}`).replace(/\/+$/, '');
const repeat = Number(opts.repeat);
if (!Number.isInteger(repeat) || repeat < 1) fail('--repeat must be a positive integer');
if (opts.endpoint && !DEV_SECRETS[opts.endpoint]) fail(`unknown --endpoint ${opts.endpoint}`);
if (opts.source && !/^[0-9a-f-]{36}$/i.test(opts.source)) fail('--source must be a source id (a UUID)');
if (opts.source && !opts.secret) fail("--source needs --secret: the source's own secret (shown when it was created or rotated)");

function prepare(event) {
  const { organization_id: named, ...rest } = event;
  const organization = opts.org ?? (opts.source ? undefined : named);
  return {
    ...rest,
    ...(organization === undefined ? {} : { organization_id: organization }),
    ...(opts['keep-id'] ? {} : { event_id: `evt_${randomUUID()}` }),
    ...(opts['keep-timestamp'] ? {} : { timestamp: new Date().toISOString() }),
  };
}

let failures = 0;
for (const file of files) {
  let content;
  try {
    content = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    fail(`${file}: ${err.message}`);
  }
  const isBatch = Array.isArray(content?.events);
  const first = isBatch ? content.events[0] : content;
  const endpoint = opts.endpoint ?? endpointFor(String(first?.event_type ?? ''));
  if (!endpoint) fail(`${file}: cannot tell the endpoint from event_type "${first?.event_type}"; pass --endpoint`);
  const secret = (opts.secret ?? env[SECRET_VARIABLE[endpoint]] ?? DEV_SECRETS[endpoint]).split(/\s+/)[0];
  const payload = isBatch ? { ...content, events: content.events.map(prepare) } : prepare(content);

  for (let i = 0; i < repeat; i++) {
    const body = JSON.stringify(payload);
    const id = `msg_${randomUUID()}`;
    const at = new Date();
    const headers = {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(id, at, body),
    };
    const url = `${base}/webhooks/${endpoint}${opts.source ? `/${opts.source}` : ''}`;
    let res;
    try {
      res = await fetch(url, { method: 'POST', headers, body });
    } catch (err) {
      fail(`${url}: ${err.cause?.code ?? err.message} (is the platform running? npm start)`);
    }
    const text = await res.text();
    let shown = text;
    try {
      shown = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      /* not JSON: show as is */
    }
    console.log(`POST ${url}  ${file}${repeat > 1 ? ` #${i + 1}` : ''}  → ${res.status} (request id ${res.headers.get('x-request-id')})\n${shown}\n`);
    if (res.status >= 300) failures += 1;
  }
}
process.exit(failures ? 1 : 0);
