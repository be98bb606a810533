// What a round trip costs on this machine when the processes sleep between requests, as they do at a moderate,
// evenly paced rate: `SELECT 1` over one PostgreSQL connection, back to back and then one every few ms, with the CPU
// time of the server backend (from /proc) and of this client process per query. On a VM, a process woken from idle
// pays far more CPU per message than one kept busy; this is the reference for reading CPU-per-event figures measured
// at different rates (bench/worker/builds-ab.ts).
//
//   node -r ./libs/testing/src/register-ts.cjs bench/machine/wake-cost.ts
//
// DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), BENCH_QUERIES (per scenario, 1000),
// BENCH_GAPS_MS (comma-separated pauses between queries, 0 = back to back; default 0,2,5,0).
import { Client } from 'pg';
import { cpuMsOf } from '../lib';

const QUERIES = Number(process.env['BENCH_QUERIES'] ?? 1000);
const GAPS_MS = (process.env['BENCH_GAPS_MS'] ?? '0,2,5,0').split(',').map(Number);
const clientCpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

async function main(): Promise<void> {
  const client = new Client({ connectionString: process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
  await client.connect();
  try {
    const backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    for (const gap of GAPS_MS) {
      const [server, own, started] = [cpuMsOf(backend), clientCpuMs(), Date.now()];
      for (let i = 0; i < QUERIES; i++) {
        await client.query('SELECT 1');
        if (gap) await new Promise((resolve) => setTimeout(resolve, gap));
      }
      const perQuery = (ms: number) => ((ms * 1000) / QUERIES).toFixed(0);
      process.stdout.write(
        `${gap ? `one every ${gap} ms` : 'back to back'}: backend ${perQuery(cpuMsOf(backend) - server)} µs CPU per query, client ${perQuery(clientCpuMs() - own)} µs, ${Date.now() - started} ms for ${QUERIES}\n`,
      );
    }
  } finally {
    await client.end();
  }
}

main().catch((err) => {
  process.stderr.write(`bench/machine/wake-cost failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
