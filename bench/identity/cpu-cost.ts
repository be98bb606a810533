// CPU time per request of GET /users/me, in each process that serves it (identity-service, api-gateway, and the bare
// Express server as the reference): a figure that other load on a shared machine moves far less than req/s.
//
//   node -r ./libs/testing/src/register-ts.cjs bench/identity/cpu-cost.ts
//
// BENCH_RUNS (rounds, default 3), BENCH_DURATION (seconds per scenario, default 8), BENCH_CONNECTIONS (16), plus bench/lib's variables.
import path from 'node:path';
import { cpuMsOf, median, runLoad, startBenchScript } from '../lib';
import { withOneAccountStack } from './fixture';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const DURATION = Number(process.env['BENCH_DURATION'] ?? 8);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 16);

async function main(): Promise<void> {
  await withOneAccountStack(async ({ env, identity, gateway, token, stopping }) => {
    const bare = await startBenchScript(path.join(__dirname, 'bare-server.ts'), env);
    stopping.push(() => bare.stop());
    const headers = { authorization: `Bearer ${token}` };
    const processes = [identity, gateway, { name: 'bare-server', pid: bare.pid }];
    const scenarios = { bare: bare.url, direct: identity.url, 'via api-gateway': gateway.url };
    const figures: Record<string, Record<string, number[]>> = {};
    for (let run = 0; run < RUNS; run++) {
      // what each process spends with no request at all (timers, metrics, heartbeats), per second
      const idleBefore = processes.map((p) => cpuMsOf(p.pid));
      await new Promise((resolve) => setTimeout(resolve, DURATION * 1000));
      processes.forEach((p, i) => ((figures['idle'] ??= {})[`${p.name} CPU ms/s`] ??= []).push((cpuMsOf(p.pid) - idleBefore[i]!) / DURATION));
      for (const [name, base] of Object.entries(scenarios)) {
        const before = processes.map((p) => cpuMsOf(p.pid));
        const load = await runLoad({ url: `${base}/users/me`, headers, duration: DURATION, connections: CONNECTIONS });
        const rows = (figures[name] ??= {});
        (rows['req/s'] ??= []).push(load.rps);
        processes.forEach((p, i) => {
          const spent = cpuMsOf(p.pid) - before[i]!;
          if (spent > 0) (rows[`${p.name} CPU ms/req`] ??= []).push(spent / load.total);
        });
      }
    }
    for (const [name, rows] of Object.entries(figures)) {
      const line = Object.entries(rows).map(([label, values]) => `${label} ${median(values).toFixed(label === 'req/s' ? 0 : 3)}`);
      process.stdout.write(`${name}: ${line.join(', ')}\n`);
    }
  });
}

main().catch((err) => {
  process.stderr.write(`bench/identity/cpu-cost failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
