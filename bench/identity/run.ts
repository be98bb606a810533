// bench/identity: POST /users/login and GET /users/me through api-gateway (and identity-service direct), beside a
// bare Express GET /users/me, in the same run, interleaved. autocannon runs in its own process (bench/lib runLoad).
//
//   node -r ./libs/testing/src/register-ts.cjs bench/identity/run.ts
//
// BENCH_RUNS (rounds, default 3), BENCH_DURATION (seconds per scenario, default 8), BENCH_CONNECTIONS (GET /users/me, 32),
// BENCH_LOGIN_CONNECTIONS (8), BENCH_BCRYPT_COST (default 12, as production), plus bench/lib's variables.
import path from 'node:path';
import { Database } from '@saas/db';
import { BenchReport, createBenchWorld, runLoad, startBenchScript } from '../lib';
import { BENCH_PASSWORD, loginToken, seedAccounts, startIdentityBehindGateway } from './fixture';
import type { LoginLoadArgs } from './login-requests';

const DURATION = Number(process.env['BENCH_DURATION'] ?? 8);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 32);
const LOGIN_CONNECTIONS = Number(process.env['BENCH_LOGIN_CONNECTIONS'] ?? 8);
const ACCOUNTS = 64;

async function main(): Promise<void> {
  const world = await createBenchWorld({
    // the bench logs in far more often than people do; the throttle itself stays on (successes give their attempt back)
    LOGIN_MAX_FAILURES_PER_IP: 100000,
  });
  const env = world.env;
  const db = new Database({ url: env['DATABASE_URL']!, poolMax: 2 });
  const stopping: (() => Promise<void>)[] = [];
  try {
    const emails = await seedAccounts(db, ACCOUNTS, Number(env['BCRYPT_COST']));
    const { identity, gateway } = await startIdentityBehindGateway(env, stopping);
    const bare = await startBenchScript(path.join(__dirname, 'bare-server.ts'), env);
    stopping.push(() => bare.stop());

    const token = await loginToken(gateway.url, emails[1]!);
    const authorization = { authorization: `Bearer ${token}` };

    const me = (base: string, headers: Record<string, string> = {}) => () => runLoad({ url: `${base}/users/me`, headers, duration: DURATION, connections: CONNECTIONS });
    const logins = (base: string) => () =>
      runLoad({
        url: base,
        duration: DURATION,
        connections: LOGIN_CONNECTIONS,
        requests: { module: 'bench/identity/login-requests.ts', args: { emails, password: BENCH_PASSWORD } satisfies LoginLoadArgs },
      });

    const report = new BenchReport('identity', {
      duration_s: DURATION,
      connections: CONNECTIONS,
      login_connections: LOGIN_CONNECTIONS,
      bcrypt_cost: Number(env['BCRYPT_COST']),
      accounts: ACCOUNTS,
    });
    await report.measure([
      { name: 'bare GET /users/me', run: me(bare.url), note: 'express, fixed JSON' },
      { name: 'GET /users/me via api-gateway', run: me(gateway.url, authorization), note: 'JWT verify, token state (Redis), profile (PostgreSQL, RLS)' },
      { name: 'GET /users/me direct', run: me(identity.url, authorization), note: 'identity-service without the gateway hop' },
      { name: 'POST /users/login via api-gateway', run: logins(gateway.url), note: `bcrypt cost ${env['BCRYPT_COST']}, ${ACCOUNTS} accounts` },
    ]);
    report.ratio('GET /users/me via api-gateway vs bare', 'GET /users/me via api-gateway', 'bare GET /users/me', 0.5);
    report.ratio('GET /users/me direct vs bare', 'GET /users/me direct', 'bare GET /users/me');
    report.ratio('GET /users/me p99: via api-gateway vs bare', 'GET /users/me via api-gateway', 'bare GET /users/me', undefined, 'p99');
    report.setMemory({ 'identity-service': identity.pid, 'api-gateway': gateway.pid, 'bare-server': bare.pid });
    const written = report.write();
    process.stdout.write(`${report.markdown()}\nwritten: ${written.markdown}\n`);
  } finally {
    for (const stop of stopping.reverse()) await stop().catch(() => undefined);
    await db.close();
    await world.teardown();
  }
}

main().catch((err) => {
  process.stderr.write(`bench/identity failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
