// bench/webhooks: signed webhook ingest, single events and 100-event batches, against webhook-gateway directly and
// through api-gateway, beside — in the same run, interleaved — a naive reference on the same stack (per request:
// parse → INSERT → publish → await confirm → 202), a lean reference with none of the stack (lean-server.ts: Express,
// pg.Pool, amqplib, no checks) and a bare Express endpoint. autocannon runs in its own process.
//
//   node -r ./libs/testing/src/register-ts.cjs bench/webhooks/run.ts
//
// BENCH_RUNS (rounds, default 3), BENCH_DURATION (seconds per scenario, default 8), BENCH_SINGLE_CONNECTIONS (32),
// BENCH_BATCH_CONNECTIONS (8), plus bench/lib's variables (BENCH_FROM_SOURCE, BENCH_SKIP_BUILD, BENCH_LOG_LEVEL).
import path from 'node:path';
import amqp from 'amqplib';
import { Database, Organization } from '@saas/db';
import { topologyNames, SERVICES } from '@saas/messaging';
import { BenchReport, createBenchSource, createBenchWorld, runLoad, startBenchScript, startService, webhookSecret, type ServiceProcess } from '../lib';
import type { WebhookLoadArgs } from '../lib/webhook-requests';

const DURATION = Number(process.env['BENCH_DURATION'] ?? 8);
const SINGLE_CONNECTIONS = Number(process.env['BENCH_SINGLE_CONNECTIONS'] ?? 32);
const BATCH_CONNECTIONS = Number(process.env['BENCH_BATCH_CONNECTIONS'] ?? 8);
const BATCH = 100;

async function main(): Promise<void> {
  const world = await createBenchWorld({ LOG_LEVEL: process.env['BENCH_LOG_LEVEL'] ?? 'warn' });
  const env = world.env;
  const stopping: (() => Promise<void>)[] = [];
  const db = new Database({ url: env['DATABASE_URL']!, poolMax: 2 });
  const broker = await amqp.connect(env['RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672');
  try {
    const org = await db.asSystem('bench fixture', (transaction) => Organization.create({ name: 'Bench Org', slug: `bench-${world.runId}` }, { transaction }));

    const webhooks: ServiceProcess = await startService('webhook-gateway', { env });
    stopping.push(() => webhooks.stop());
    // api-gateway checks every upstream's /readyz; only /webhooks is exercised, so the others point at webhook-gateway too.
    const gateway = await startService('api-gateway', {
      env: { ...env, WEBHOOK_GATEWAY_URL: webhooks.url, IDENTITY_SERVICE_URL: webhooks.url, INTEGRATION_WORKER_URL: webhooks.url },
    });
    stopping.push(() => gateway.stop());
    const naive = await startBenchScript(path.join(__dirname, 'naive-server.ts'), env);
    stopping.push(() => naive.stop());
    const bare = await startBenchScript(path.join(__dirname, 'bare-server.ts'), env);
    stopping.push(() => bare.stop());
    const lean = await startBenchScript(path.join(__dirname, 'lean-server.ts'), env);
    stopping.push(() => lean.stop());

    // Nothing consumes in this bench: empty the run's queues after each scenario so RabbitMQ (shared) stays small.
    const names = topologyNames({ prefix: env['RABBITMQ_NAME_PREFIX'] ?? '', maxRetries: 0, backoffBase: 1 });
    const channel = await broker.createChannel();
    const purge = async () => {
      for (const service of SERVICES) await channel.purgeQueue(names.serviceQueue(service));
    };

    const source = await createBenchSource(db, env, org.id, 'user_service');
    const load = (url: string, batch: number, via: 'platform' | 'source' = 'platform') => async () => {
      const platform: WebhookLoadArgs = { endpoint: 'user-service', secret: webhookSecret(env, 'user-service'), orgSlug: org.slug, batch };
      const args: WebhookLoadArgs = via === 'source' ? { ...platform, secret: source.secret, sourceId: source.id } : platform;
      const result = await runLoad({
        url,
        duration: DURATION,
        connections: batch ? BATCH_CONNECTIONS : SINGLE_CONNECTIONS,
        requests: { module: 'bench/lib/webhook-requests.ts', args },
      });
      await purge();
      return result;
    };

    const report = new BenchReport('webhooks', {
      duration_s: DURATION,
      single_connections: SINGLE_CONNECTIONS,
      batch_connections: BATCH_CONNECTIONS,
      batch_events: BATCH,
      linger_ms: env['INGEST_LINGER_MS'] ?? 'default',
    });
    await report.measure([
      { name: 'bare single', run: load(bare.url, 0), note: 'express.json + 202' },
      { name: 'naive single', run: load(naive.url, 0), note: 'per request: INSERT, publish, await confirm' },
      { name: 'lean single', run: load(lean.url, 0), note: 'express.json, INSERT … ON CONFLICT through pg.Pool, publish, waitForConfirms' },
      { name: 'gateway single', run: load(webhooks.url, 0), note: 'webhook-gateway direct' },
      { name: 'gateway single via api-gateway', run: load(gateway.url, 0), note: 'through api-gateway' },
      { name: 'gateway single, source endpoint', run: load(webhooks.url, 0, 'source'), note: 'webhook-gateway direct, /webhooks/user-service/<source>' },
      { name: 'bare batch', run: load(bare.url, BATCH), note: `${BATCH} events per request` },
      { name: 'naive batch', run: load(naive.url, BATCH), note: `${BATCH} events: one INSERT, publish all, await confirms` },
      { name: 'lean batch', run: load(lean.url, BATCH), note: `${BATCH} events: one INSERT … ON CONFLICT, publish all, waitForConfirms` },
      { name: 'gateway batch', run: load(webhooks.url, BATCH), note: 'webhook-gateway direct' },
      { name: 'gateway batch via api-gateway', run: load(gateway.url, BATCH), note: 'through api-gateway' },
      { name: 'gateway batch, source endpoint', run: load(webhooks.url, BATCH, 'source'), note: 'webhook-gateway direct, /webhooks/user-service/<source>' },
    ]);
    report.ratio('single: gateway vs naive', 'gateway single', 'naive single', 2);
    report.ratio('single: gateway via api-gateway vs naive', 'gateway single via api-gateway', 'naive single');
    report.ratio('single: via api-gateway vs webhook-gateway direct', 'gateway single via api-gateway', 'gateway single', 0.6);
    report.ratio('single p50: gateway vs naive', 'gateway single', 'naive single', undefined, 'p50');
    report.ratio('single p99: gateway vs naive', 'gateway single', 'naive single', undefined, 'p99');
    report.ratio('batch: gateway vs naive', 'gateway batch', 'naive batch', 1);
    report.ratio('batch: gateway via api-gateway vs naive', 'gateway batch via api-gateway', 'naive batch');
    report.ratio('batch p99: gateway vs naive', 'gateway batch', 'naive batch', undefined, 'p99');
    report.ratio('single: gateway vs bare', 'gateway single', 'bare single', 0.5);
    report.ratio('single: gateway vs lean', 'gateway single', 'lean single');
    report.ratio('batch: gateway vs lean', 'gateway batch', 'lean batch');
    report.ratio('single: source endpoint vs platform endpoint', 'gateway single, source endpoint', 'gateway single', 0.95);
    report.ratio('batch: source endpoint vs platform endpoint', 'gateway batch, source endpoint', 'gateway batch', 0.95);
    report.setMemory({ 'webhook-gateway': webhooks.pid, 'api-gateway': gateway.pid, 'naive-server': naive.pid, 'lean-server': lean.pid });
    const written = report.write();
    process.stdout.write(`${report.markdown()}\nwritten: ${written.markdown}\n`);
  } finally {
    for (const stop of stopping.reverse()) await stop().catch(() => undefined);
    await broker.close().catch(() => undefined);
    await db.close();
    await world.teardown();
  }
}

main().catch((err) => {
  process.stderr.write(`bench/webhooks failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
