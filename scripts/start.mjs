#!/usr/bin/env node
// `npm start`: check backing services, build, migrate + bootstrap the superadmin, run all four services with
// prefixed logs, print the URLs once every /readyz answers; Ctrl-C (or SIGTERM) stops them all.
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { parseEnv } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
process.chdir(root);
const fileEnv = existsSync('.env') ? parseEnv(readFileSync('.env', 'utf8')) : {};
const env = { ...fileEnv, ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' };
const get = (name, fallback) => env[name] || fallback;
const migrateOnly = process.argv.includes('--migrate-only');
// The flags every service runs with, shared with deploy/Dockerfile and the benches.
const nodeFlags = readFileSync('deploy/node-flags', 'utf8')
  .split('\n')
  .filter((line) => line.trim() && !line.startsWith('#'))
  .map((line) => line.trim());

const dependencies = [
  ['PostgreSQL', 'DATABASE_ADMIN_URL', 'postgres://postgres@127.0.0.1:5432/saas', 5432, 'postgres'],
  ['Redis', 'REDIS_URL', 'redis://127.0.0.1:6379', 6379, 'redis'],
  ['RabbitMQ', 'RABBITMQ_URL', 'amqp://guest:guest@127.0.0.1:5672', 5672, 'rabbitmq'],
];

function reachable(host, port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 2000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

async function checkDependencies() {
  const down = [];
  for (const [label, variable, fallback, defaultPort, composeName] of dependencies) {
    const url = new URL(get(variable, fallback));
    if (!(await reachable(url.hostname, Number(url.port || defaultPort)))) down.push({ label, variable, url, composeName });
  }
  if (!down.length) return;
  for (const d of down) {
    const shown = `${d.url.protocol}//${d.url.hostname}:${d.url.port}${d.url.pathname === '/' ? '' : d.url.pathname}`;
    console.error(`✗ ${d.label} is unreachable at ${shown} (${d.variable})`);
  }
  console.error(`\nStart them with:  docker compose up -d ${down.map((d) => d.composeName).join(' ')}`);
  console.error('or, on a machine with the services installed, see README "Backing services".');
  process.exit(1);
}

function ensureDevKeys() {
  if (env.JWT_PRIVATE_KEY || env.NODE_ENV === 'production') return;
  const dir = get('JWT_KEYS_DIR', '.keys');
  const privatePath = join(dir, 'jwt-private.pem');
  if (existsSync(privatePath)) return;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  writeFileSync(privatePath, privateKey, { mode: 0o600 });
  writeFileSync(join(dir, 'jwt-public.pem'), publicKey);
  console.log(`generated a development JWT key pair in ${dir}/ (git-ignored)`);
}

function run(label, command, args) {
  console.log(`→ ${label}`);
  const result = spawnSync(command, args, { stdio: 'inherit', env });
  if (result.status !== 0) {
    console.error(`✗ ${label} failed`);
    process.exit(result.status ?? 1);
  }
}

const services = [
  ['identity', 'dist/apps/identity-service/main.js', 'IDENTITY_SERVICE_PORT', 3001],
  ['webhooks', 'dist/apps/webhook-gateway/main.js', 'WEBHOOK_GATEWAY_PORT', 3002],
  ['worker  ', 'dist/apps/integration-worker/main.js', 'INTEGRATION_WORKER_PORT', 3003],
  ['gateway ', 'dist/apps/api-gateway/main.js', 'API_GATEWAY_PORT', 8000],
];

function prefixLines(stream, label, out) {
  let buffered = '';
  stream.on('data', (chunk) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop();
    for (const line of lines) out.write(`[${label}] ${line}\n`);
  });
}

async function waitReady(children) {
  const deadline = Date.now() + 60000;
  for (const [label, , portVar, port] of services) {
    const url = `http://127.0.0.1:${get(portVar, port)}/readyz`;
    for (;;) {
      try {
        if ((await fetch(url, { signal: AbortSignal.timeout(1000) })).ok) break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline || children.some((c) => c.exitCode !== null)) {
        console.error(`✗ ${label.trim()} did not become ready at ${url}`);
        return false;
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  return true;
}

await checkDependencies();
ensureDevKeys();
run('build', 'npx', ['nx', 'run-many', '-t', 'build', '--outputStyle=static']);
run('migrate + bootstrap superadmin', process.execPath, [...nodeFlags, 'dist/apps/identity-service/migrate.js']);
if (migrateOnly) process.exit(0);

const children = services.map(([label, entry]) => {
  const child = spawn(process.execPath, [...nodeFlags, entry], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  prefixLines(child.stdout, label, process.stdout);
  prefixLines(child.stderr, label, process.stderr);
  child.on('exit', (code, signal) => {
    console.log(`[${label}] exited (${signal ?? code})`);
    if (!stopping) stop(1);
  });
  return child;
});

let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  console.log('stopping all services…');
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  const check = setInterval(() => {
    if (children.every((c) => c.exitCode !== null || c.signalCode !== null)) {
      clearInterval(check);
      process.exit(code);
    }
  }, 100);
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

if (await waitReady(children)) {
  const gateway = `http://localhost:${get('API_GATEWAY_PORT', 8000)}`;
  console.log(`
  ready:
    API (gateway)        ${gateway}
    API docs             ${gateway}/docs
    health               ${gateway}/readyz
    RabbitMQ management  http://localhost:15672 (when the management plugin is enabled)
    superadmin           ${get('SUPERADMIN_EMAIL', 'superadmin@example.com')}
  Ctrl-C stops everything.
`);
} else {
  stop(1);
}
