// Paired A/B of builds: CPU ms per GET /users/me of identity-service and api-gateway for two (or more) builds of the
// apps, each pair running at once against the same database, measured in interleaved rounds (the order rotates every
// round) so the shared machine's drift hits every build alike. For judging a change to the shared HTTP middleware or
// the gateway: copy dist/apps before the change, build after it, and compare.
//
//   cp -r dist/apps /tmp/before && <change> && npx nx run-many -t build
//   BENCH_BUILDS=before=/tmp/before,after=dist/apps node -r ./libs/testing/src/register-ts.cjs bench/identity/builds-ab.ts
//
// BENCH_BUILDS (label=folder holding <app>/main.js, comma-separated; default: dist/apps alone), BENCH_RUNS (rounds, 5),
// BENCH_DURATION (seconds per scenario, 6), BENCH_CONNECTIONS (16), BENCH_RATE (requests/s, evenly paced, open loop;
// default: as fast as they go), plus bench/lib's variables.
import { Database } from '@saas/db';
import { buildsToCompare, cpuMsOf, createBenchWorld, median, runLoad, startService, type ServiceProcess } from '../lib';
import { loginToken, seedAccounts } from './fixture';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const DURATION = Number(process.env['BENCH_DURATION'] ?? 6);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 16);
// A fixed request rate below every build's capacity: CPU per request also depends on how many requests share an
// event-loop turn, which a closed loop lets vary with each build's speed and with the machine's other load.
const RATE = process.env['BENCH_RATE'] ? Number(process.env['BENCH_RATE']) : undefined;
const BUILDS = buildsToCompare();

async function main(): Promise<void> {
  const world = await createBenchWorld();
  const env: Record<string, string> = { ...world.env, BCRYPT_COST: '4' };
  const db = new Database({ url: env['DATABASE_URL']!, poolMax: 2 });
  const stopping: (() => Promise<void>)[] = [];
  try {
    const [email] = await seedAccounts(db, 1, 4);
    const stacks: { label: string; identity: ServiceProcess; gateway: ServiceProcess }[] = [];
    for (const { label, folder } of BUILDS) {
      const identity = await startService('identity-service', { env, build: folder, instance: label });
      stopping.push(() => identity.stop());
      const upstream = { IDENTITY_SERVICE_URL: identity.url, WEBHOOK_GATEWAY_URL: identity.url, INTEGRATION_WORKER_URL: identity.url };
      const gateway = await startService('api-gateway', { env: { ...env, ...upstream }, build: folder, instance: label });
      stopping.push(() => gateway.stop());
      stacks.push({ label, identity, gateway });
    }
    const headers = { authorization: `Bearer ${await loginToken(stacks[0]!.identity.url, email!)}` };
    const figures = new Map<string, number[]>();
    const add = (key: string, value: number) => figures.set(key, [...(figures.get(key) ?? []), value]);
    for (let run = 0; run < RUNS; run++) {
      const order = stacks.map((_, i) => stacks[(i + run) % stacks.length]!);
      for (const { label, identity, gateway } of order) {
        for (const [scenario, base] of [['direct', identity.url], ['via api-gateway', gateway.url]] as const) {
          const before = [cpuMsOf(identity.pid), cpuMsOf(gateway.pid)];
          const load = await runLoad({ url: `${base}/users/me`, headers, duration: DURATION, connections: CONNECTIONS, rate: RATE });
          if (load.non2xx || load.errors) throw new Error(`${label} ${scenario}: ${load.non2xx} non-2xx, ${load.errors} errors`);
          add(`${label} ${scenario}: req/s`, load.rps);
          add(`${label} ${scenario}: identity-service CPU ms/req`, (cpuMsOf(identity.pid) - before[0]!) / load.total);
          if (scenario !== 'direct') add(`${label} ${scenario}: api-gateway CPU ms/req`, (cpuMsOf(gateway.pid) - before[1]!) / load.total);
        }
      }
    }
    for (const [key, values] of figures) {
      const digits = key.endsWith('req/s') ? 0 : 3;
      process.stdout.write(`${key} median ${median(values).toFixed(digits)} [${values.map((v) => v.toFixed(digits)).join(' ')}]\n`);
    }
  } finally {
    for (const stop of stopping.reverse()) await stop().catch(() => undefined);
    await db.close();
    await world.teardown();
  }
}

main().catch((err) => {
  process.stderr.write(`bench/identity/builds-ab failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
