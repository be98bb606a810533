// bench/worker: the integration worker behind a real webhook-gateway (both as built services, own processes).
//  1. max ingest: signed single user.created webhooks as fast as the gateway takes them (worker consuming meanwhile);
//  2. receipt → processed latency (webhook_events.received_at → processed_at) at half that maximum rate, requests
//     evenly spaced in time (open loop, runLoad `rate`);
//  3. drain: with the worker stopped, a 10k backlog (user + communication events) is ingested, then the worker is
//     started and the time to process all of it gives the drain rate, compared with the ingest rate.
//
//   node -r ./libs/testing/src/register-ts.cjs bench/worker/run.ts
//
// BENCH_DURATION (seconds of load per phase, default 10), BENCH_CONNECTIONS (32), BENCH_BACKLOG (10000),
// BENCH_WORKER_PREFETCH (WORKER_PREFETCH for the worker, default the service default), BENCH_WORKER_CPU_PROF (a
// directory: each worker process, the one of phases 1–2 and the draining one, writes a --cpu-prof profile there),
// plus bench/lib's variables.
import { Database, Organization } from '@saas/db';
import { BenchReport, createBenchWorld, runLoad, startService, webhookSecret, type ServiceProcess } from '../lib';
import type { WebhookLoadArgs } from '../lib/webhook-requests';
import { EventClock } from './event-clock';

const DURATION = Number(process.env['BENCH_DURATION'] ?? 10);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 32);
const BACKLOG = Number(process.env['BENCH_BACKLOG'] ?? 10000);
const BATCH = 500;
const REQUESTS = 'bench/lib/webhook-requests.ts';
const CPU_PROF_DIR = process.env['BENCH_WORKER_CPU_PROF'];
const WORKER_NODE_ARGS = CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`] : [];

const log = (line: string) => process.stderr.write(`  [worker] ${line}\n`);

async function main(): Promise<void> {
  const world = await createBenchWorld({
    LOG_LEVEL: process.env['BENCH_LOG_LEVEL'] ?? 'warn',
    ...(process.env['BENCH_WORKER_PREFETCH'] ? { WORKER_PREFETCH: process.env['BENCH_WORKER_PREFETCH'] } : {}),
  });
  const env = world.env;
  const db = new Database({ url: env['DATABASE_URL']!, poolMax: 2 });
  const running: ServiceProcess[] = [];
  const report = new BenchReport('worker', { duration_s: DURATION, connections: CONNECTIONS, backlog: BACKLOG, worker_prefetch: env['WORKER_PREFETCH'] ?? 'default' });
  try {
    const org = await db.asSystem('bench fixture', (transaction) => Organization.create({ name: 'Worker Bench Org', slug: `wbench-${world.runId}` }, { transaction }));
    const clock = new EventClock(db);
    const args = (endpoint: WebhookLoadArgs['endpoint'], batch?: number): WebhookLoadArgs => ({ endpoint, secret: webhookSecret(env, endpoint), orgSlug: org.slug, batch });

    const webhooks = await startService('webhook-gateway', { env });
    running.push(webhooks);
    let worker = await startService('integration-worker', { env, nodeArgs: WORKER_NODE_ARGS });
    running.push(worker);

    // 1. maximum ingest rate of single events
    const max = await runLoad({ url: webhooks.url, duration: DURATION, connections: CONNECTIONS, requests: { module: REQUESTS, args: args('user-service') } });
    report.addLoad('max ingest (single user.created, worker consuming)', [max]);
    log(`max ingest ${max.rps.toFixed(0)} events/s, p99 ${max.p99} ms, non-2xx ${max.non2xx}`);
    await clock.settle(180000);

    // 2. receipt → processed latency at half the maximum rate
    const rate = Math.max(1, Math.floor(max.rps / 2));
    const since = await clock.now();
    const fixed = await runLoad({ url: webhooks.url, duration: DURATION, connections: CONNECTIONS, rate, requests: { module: REQUESTS, args: args('user-service') } });
    report.addLoad(`fixed rate ${rate}/s (half of max, evenly paced)`, [fixed]);
    await clock.settle(120000);
    const { count, p50, p99 } = await clock.receiptToProcessed(since);
    report.addValue({ name: `receipt → processed p50 at ${rate}/s`, value: p50, unit: 'ms', note: `${count} events` });
    report.addValue({ name: `receipt → processed p99 at ${rate}/s`, value: p99, unit: 'ms', goal: '<= 100', met: p99 <= 100 });
    log(`latency at ${rate}/s over ${count} events: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);

    // 3. drain of a backlog ingested while the worker is stopped
    await worker.stop();
    running.splice(running.indexOf(worker), 1);
    const backlogSince = await clock.now();
    const perEndpoint = Math.ceil(BACKLOG / 2 / BATCH);
    const ingestStarted = Date.now();
    const ingest = await Promise.all(
      (['user-service', 'communication-service'] as const).map((endpoint) =>
        runLoad({ url: webhooks.url, amount: perEndpoint, connections: 2, requests: { module: REQUESTS, args: args(endpoint, BATCH) } }),
      ),
    );
    const ingestSeconds = (Date.now() - ingestStarted) / 1000;
    const backlog = await clock.receivedSince(backlogSince);
    const ingestRate = backlog / ingestSeconds;
    log(`backlog of ${backlog} events ingested in ${ingestSeconds.toFixed(1)} s (${ingestRate.toFixed(0)} events/s, non-2xx ${ingest.reduce((n, r) => n + r.non2xx, 0)})`);

    const workerStarted = Date.now();
    worker = await startService('integration-worker', { env, nodeArgs: WORKER_NODE_ARGS });
    running.push(worker);
    await clock.settle(600000);
    const drain = await clock.processedSince(backlogSince);
    const drainSeconds = (new Date(drain.last).getTime() - new Date(drain.first).getTime()) / 1000;
    const drainRate = drain.processed / drainSeconds;
    const withStartSeconds = (new Date(drain.last).getTime() - workerStarted) / 1000;
    report.addValue({ name: 'backlog ingest rate (batches of 500)', value: ingestRate, unit: 'events/s', note: `${backlog} events in ${ingestSeconds.toFixed(1)} s` });
    report.addValue({
      name: 'backlog drain rate',
      value: drainRate,
      unit: 'events/s',
      goal: `>= ${Math.round(max.rps)} (max single-event ingest)`,
      met: drainRate >= max.rps,
      note: `${drain.processed} processed in ${drainSeconds.toFixed(1)} s (${withStartSeconds.toFixed(1)} s including worker start)`,
    });
    log(`drain: ${drain.processed} events in ${drainSeconds.toFixed(1)} s = ${drainRate.toFixed(0)} events/s`);
    report.setMemory(Object.fromEntries(running.map((s) => [s.name, s.pid])));
    const files = report.write();
    process.stdout.write(`${report.markdown()}\nwritten: ${files.markdown}\n`);
  } finally {
    await Promise.all(running.map((s) => s.stop()));
    await db.close();
    await world.teardown();
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
