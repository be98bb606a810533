// CPU time per webhook event, webhook-gateway beside the naive reference, in the server process and in the PostgreSQL
// backends serving it: on a shared 2-core machine, where req/s moves 2-5x with other load, CPU per event moves far
// less, and when the machine is CPU-bound the ratio of CPU per event is the ratio of the throughputs it can reach.
// RabbitMQ (shared with everything else on the machine) and PostgreSQL's background writers are not counted.
// webhook-gateway is measured on both kinds of endpoint, in turn: the platform endpoint (`gateway`) and an integration
// source's (`gateway source`), whose secret comes from the source cache and whose organization is the source's.
//
//   node -r ./libs/testing/src/register-ts.cjs bench/webhooks/cpu-cost.ts
//
// BENCH_RUNS (rounds, default 3), BENCH_SINGLE_REQUESTS (4000), BENCH_BATCH_REQUESTS (150), BENCH_SINGLE_CONNECTIONS (32),
// BENCH_BATCH_CONNECTIONS (8), BENCH_KINDS (single,batch), BENCH_CPU_PROF (a folder: both servers write --cpu-prof
// profiles there; summarise them with bench/identity/profile.ts), plus bench/lib's variables.
import path from 'node:path';
import { Client } from 'pg';
import { Database, Organization } from '@saas/db';
import { cpuMsOf, createBenchSource, createBenchWorld, median, runLoad, startBenchScript, startService, webhookSecret } from '../lib';
import type { WebhookLoadArgs } from '../lib/webhook-requests';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const SINGLE_REQUESTS = Number(process.env['BENCH_SINGLE_REQUESTS'] ?? 4000);
const BATCH_REQUESTS = Number(process.env['BENCH_BATCH_REQUESTS'] ?? 150);
const SINGLE_CONNECTIONS = Number(process.env['BENCH_SINGLE_CONNECTIONS'] ?? 32);
const BATCH_CONNECTIONS = Number(process.env['BENCH_BATCH_CONNECTIONS'] ?? 8);
const KINDS = (process.env['BENCH_KINDS'] ?? 'single,batch').split(',');
const CPU_PROF = process.env['BENCH_CPU_PROF'];
const NODE_ARGS = CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`] : [];
const BATCH = 100;
// what the gateway does after answering (publish confirms, outbox deletes) lands in the measurement before it ends
const SETTLE_MS = 1500;

async function main(): Promise<void> {
  const world = await createBenchWorld({ LOG_LEVEL: process.env['BENCH_LOG_LEVEL'] ?? 'warn' });
  const env = world.env;
  const stopping: (() => Promise<void>)[] = [];
  const db = new Database({ url: env['DATABASE_URL']!, poolMax: 1 });
  const admin = new Client({ connectionString: env['DATABASE_ADMIN_URL'] });
  await admin.connect();
  try {
    const org = await db.asSystem('bench fixture', (transaction) => Organization.create({ name: 'Bench Org', slug: `bench-${world.runId}` }, { transaction }));
    const gateway = await startService('webhook-gateway', { env, nodeArgs: NODE_ARGS });
    stopping.push(() => gateway.stop());
    const naive = await startBenchScript(path.join(__dirname, 'naive-server.ts'), env, NODE_ARGS);
    stopping.push(() => naive.stop());
    const source = await createBenchSource(db, env, org.id, 'user_service');
    const platformArgs = { endpoint: 'user-service', secret: webhookSecret(env, 'user-service'), orgSlug: org.slug } as const;
    const servers = {
      gateway: { server: gateway, args: platformArgs },
      'gateway source': { server: gateway, args: { ...platformArgs, secret: source.secret, sourceId: source.id } },
      naive: { server: naive, args: platformArgs },
    };

    // CPU of the bench database's backends (the servers' pools, and this script's idle fixture connection) by pid: a
    // backend that starts during a measurement counts from zero, one that ended (an idle pool connection) stops counting
    const backendsCpuMs = async () => {
      const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
      return new Map(rows.map(({ pid }) => [pid, cpuMsOf(pid)]));
    };
    const backendsSpentMs = (before: Map<number, number>, after: Map<number, number>) =>
      [...after].reduce((sum, [pid, ms]) => sum + ms - (before.get(pid) ?? 0), 0);

    const figures: Record<string, Record<string, number[]>> = {};
    for (let run = 0; run < RUNS; run++) {
      for (const batch of KINDS.map((kind) => (kind === 'batch' ? BATCH : 0))) {
        // each round starts from another server, so no one always measures first (JIT warm-up) or after a given other
        const entries = Object.entries(servers);
        const order = [...entries.slice(run % entries.length), ...entries.slice(0, run % entries.length)];
        for (const [name, { server, args: base }] of order) {
          const args: WebhookLoadArgs = { ...base, batch };
          const [serverBefore, dbBefore] = [cpuMsOf(server.pid), await backendsCpuMs()];
          const load = await runLoad({
            url: server.url,
            amount: batch ? BATCH_REQUESTS : SINGLE_REQUESTS,
            connections: batch ? BATCH_CONNECTIONS : SINGLE_CONNECTIONS,
            requests: { module: 'bench/lib/webhook-requests.ts', args },
          });
          await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
          const events = load.total * (batch || 1);
          const serverMs = (cpuMsOf(server.pid) - serverBefore) / events;
          const dbMs = backendsSpentMs(dbBefore, await backendsCpuMs()) / events;
          const rows = (figures[`${name} ${batch ? 'batch' : 'single'}`] ??= {});
          (rows['req/s'] ??= []).push(load.rps);
          (rows['server CPU ms/event'] ??= []).push(serverMs);
          (rows['PostgreSQL CPU ms/event'] ??= []).push(dbMs);
          (rows['total CPU ms/event'] ??= []).push(serverMs + dbMs);
        }
      }
    }
    for (const [name, rows] of Object.entries(figures)) {
      const line = Object.entries(rows).map(([label, values]) => `${label} ${median(values).toFixed(label === 'req/s' ? 0 : 3)}`);
      process.stdout.write(`${name}: ${line.join(', ')}\n`);
    }
    for (const kind of KINDS) {
      const total = (name: string) => median(figures[`${name} ${kind}`]!['total CPU ms/event']!);
      process.stdout.write(`${kind}: naive / gateway total CPU per event = ${(total('naive') / total('gateway')).toFixed(2)}× (the gateway's CPU-bound throughput vs naive)\n`);
      process.stdout.write(`${kind}: gateway source / platform total CPU per event = ${(total('gateway source') / total('gateway')).toFixed(3)}× (goal ≤ 1.05)\n`);
    }
  } finally {
    for (const stop of stopping.reverse()) await stop().catch(() => undefined);
    await admin.end();
    await db.close();
    await world.teardown();
  }
}

main().catch((err) => {
  process.stderr.write(`bench/webhooks/cpu-cost failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
