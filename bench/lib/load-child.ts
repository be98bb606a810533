// Child process of runLoad: receives LoadOptions over IPC, runs autocannon, sends back a LoadResult.
import path from 'node:path';
import autocannon from 'autocannon';
import type { LoadOptions, LoadResult } from './load';

async function run(options: LoadOptions): Promise<LoadResult> {
  let requests: autocannon.Request[] | undefined;
  if (options.requests) {
    const modulePath = path.resolve(process.cwd(), options.requests.module);
    const factory = require(modulePath) as { requests: (args: unknown) => autocannon.Request[] };
    requests = factory.requests(options.requests.args);
  }
  // autocannon treats a key set to undefined as a value: leave unset options out.
  const defined = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  const r = await autocannon(defined({
    url: options.url,
    method: options.method,
    headers: options.headers,
    body: options.body,
    connections: options.connections ?? 50,
    pipelining: options.pipelining ?? 1,
    duration: options.amount ? undefined : (options.duration ?? 10),
    amount: options.amount,
    overallRate: options.overallRate,
    timeout: options.timeoutSeconds ?? 10,
    requests,
  }));
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    meanLatency: r.latency.mean,
    maxLatency: r.latency.max,
    total: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([code, s]) => [code, Number(s.count)])),
    durationSeconds: r.duration,
  };
}

process.once('message', (options: LoadOptions) => {
  run(options)
    .then((result) => process.send!({ result }, () => process.exit(0)))
    .catch((err: Error) => process.send!({ error: err.stack ?? String(err) }, () => process.exit(1)));
});
