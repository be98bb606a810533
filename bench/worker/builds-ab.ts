// Paired A/B of builds for the ingest → worker path: receipt → processed latency (webhook_events.received_at →
// processed_at) and CPU per event of webhook-gateway, integration-worker, RabbitMQ and PostgreSQL (in all, and the backends of each service), for two (or more)
// builds of the apps, at evenly paced rates, in interleaved rounds (the order rotates every round) so the shared
// machine's drift hits every build alike. Each round starts that build's webhook-gateway and integration-worker on the same database and
// broker, sends signed single user.created events, waits for every event to be processed, and stops them.
//
//   cp -r dist/apps /tmp/before && <change> && npx nx run-many -t build
//   BENCH_BUILDS=before=/tmp/before,after=dist/apps node -r ./libs/testing/src/register-ts.cjs bench/worker/builds-ab.ts
//
// BENCH_BUILDS (label=folder holding <app>/main.js, comma-separated; default: dist/apps alone), BENCH_RUNS (rounds, 5),
// BENCH_DURATION (seconds of load per rate and round, 8), BENCH_RATE (events/s, 250: about half this machine's max
// single-event ingest; a comma-separated list measures each rate in turn, e.g. 100,150,200,250,300), BENCH_WARMUP (seconds of load as fast as it goes before each round's measured part, 6: fresh processes run
// cold, and at 250/s a few seconds of warm-up still left HTTP p50 twice as high),
// BENCH_CONNECTIONS (32), BENCH_CPU_PROF (a folder: both services write --cpu-prof profiles there; summarise them with
// bench/identity/profile.ts), plus bench/lib's variables.
import { QueryTypes } from 'sequelize';
import { Database, Organization } from '@saas/db';
import { readdirSync, readFileSync } from 'node:fs';
import { buildsToCompare, cpuMsOf, createBenchWorld, median, runLoad, startService, webhookSecret } from '../lib';
import type { WebhookLoadArgs } from '../lib/webhook-requests';
import { EventClock } from './event-clock';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const DURATION = Number(process.env['BENCH_DURATION'] ?? 8);
const RATES = (process.env['BENCH_RATE'] ?? '250').split(',').map(Number);
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 6);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 32);
const CPU_PROF = process.env['BENCH_CPU_PROF'];
const NODE_ARGS = CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`] : [];
const BUILDS = buildsToCompare();
/** The services a round starts, whose PostgreSQL backends (by `application_name`) are measured apart. */
const MEASURED_SERVICES = ['webhook-gateway', 'integration-worker'];

/**
 * CPU ms used so far by the machine's RabbitMQ node (`beam.smp`), by all its PostgreSQL processes (every backend,
 * the WAL writer, the checkpointer: nothing else uses them during a bench on this machine, and PostgreSQL's work per
 * event is not all in the bench's own backends), and by the backends of each service (their `application_name`),
 * from one pass over /proc. A backend that exits between two readings drops out of the second: read around a phase
 * that opens no connection and closes none.
 */
async function brokerAndDatabaseCpu(db: Database): Promise<Record<string, number>> {
  const backends = await db.sequelize.query<{ pid: number; application_name: string }>(
    'SELECT pid, application_name FROM pg_stat_activity WHERE application_name = ANY($1)',
    { bind: [MEASURED_SERVICES], type: QueryTypes.SELECT },
  );
  const serviceOf = new Map(backends.map((b) => [b.pid, b.application_name]));
  const cpu: Record<string, number> = { RabbitMQ: 0, PostgreSQL: 0, ...Object.fromEntries(MEASURED_SERVICES.map((service) => [`PostgreSQL for ${service}`, 0])) };
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      if (comm === 'beam.smp') cpu['RabbitMQ'] += cpuMsOf(pid);
      else if (comm === 'postgres') {
        const ms = cpuMsOf(pid);
        cpu['PostgreSQL'] += ms;
        const service = serviceOf.get(pid);
        if (service) cpu[`PostgreSQL for ${service}`] += ms;
      }
    } catch {
      /* gone meanwhile */
    }
  }
  return cpu;
}

async function main(): Promise<void> {
  const world = await createBenchWorld({ LOG_LEVEL: process.env['BENCH_LOG_LEVEL'] ?? 'warn' });
  const env = world.env;
  const db = new Database({ url: env['DATABASE_URL']!, poolMax: 2 });
  const clock = new EventClock(db);
  try {
    const org = await db.asSystem('bench fixture', (transaction) => Organization.create({ name: 'Worker A/B Org', slug: `wab-${world.runId}` }, { transaction }));
    const args: WebhookLoadArgs = { endpoint: 'user-service', secret: webhookSecret(env, 'user-service'), orgSlug: org.slug };
    const figures = new Map<string, number[]>();
    const add = (key: string, value: number) => figures.set(key, [...(figures.get(key) ?? []), value]);
    for (let run = 0; run < RUNS; run++) {
      for (let i = 0; i < BUILDS.length; i++) {
        const { label, folder } = BUILDS[(i + run) % BUILDS.length]!;
        const gateway = await startService('webhook-gateway', { env, build: folder, instance: label, nodeArgs: NODE_ARGS });
        const worker = await startService('integration-worker', { env, build: folder, instance: label, nodeArgs: NODE_ARGS }).catch(async (err) => {
          await gateway.stop();
          throw err;
        });
        const load = (duration: number, rate?: number) =>
          runLoad({ url: gateway.url, duration, connections: CONNECTIONS, rate, requests: { module: 'bench/lib/webhook-requests.ts', args } });
        try {
          if (WARMUP) await load(WARMUP);
          for (const rate of RATES) {
            await clock.settle(120000);
            const since = await clock.now();
            const cpu = [cpuMsOf(gateway.pid), cpuMsOf(worker.pid)];
            const shared = await brokerAndDatabaseCpu(db);
            const measured = await load(DURATION, rate);
            await clock.settle(120000);
            if (measured.non2xx || measured.errors) throw new Error(`${label}: ${measured.non2xx} non-2xx, ${measured.errors} errors`);
            const latency = await clock.receiptToProcessed(since);
            const key = `${label} @${rate}/s`;
            add(`${key} receipt → processed p50 ms`, latency.p50);
            add(`${key} receipt → processed p90 ms`, latency.p90);
            add(`${key} receipt → processed p99 ms`, latency.p99);
            add(`${key} HTTP p50 ms`, measured.p50);
            add(`${key} HTTP p99 ms`, measured.p99);
            add(`${key} webhook-gateway CPU ms/event`, (cpuMsOf(gateway.pid) - cpu[0]!) / latency.count);
            add(`${key} integration-worker CPU ms/event`, (cpuMsOf(worker.pid) - cpu[1]!) / latency.count);
            const sharedAfter = await brokerAndDatabaseCpu(db);
            for (const [name, ms] of Object.entries(sharedAfter)) add(`${key} ${name} CPU ms/event`, (ms - shared[name]!) / latency.count);
            process.stderr.write(`  [worker-ab] round ${run + 1} ${key}: ${latency.count} events, p50 ${latency.p50.toFixed(1)} p99 ${latency.p99.toFixed(1)} ms\n`);
          }
        } finally {
          await worker.stop();
          await gateway.stop();
        }
      }
    }
    process.stdout.write(`${DURATION} s per rate and round, ${RUNS} rounds\n`);
    for (const [key, values] of figures) process.stdout.write(`${key} median ${median(values).toFixed(2)} [${values.map((v) => v.toFixed(2)).join(' ')}]\n`);
  } finally {
    await db.close();
    await world.teardown();
  }
}

main().catch((err) => {
  process.stderr.write(`bench/worker/builds-ab failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
