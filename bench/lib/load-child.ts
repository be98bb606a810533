// Child process of runLoad: receives LoadOptions over IPC, runs the load, sends back a LoadResult.
import { Agent, request } from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import type { LoadOptions, LoadResult } from './load';
import { percentile } from './report';

/** The per-request factory of `options.requests`, or one fixed request from the options. */
function requestSource(options: LoadOptions): autocannon.Request[] | undefined {
  if (!options.requests) return undefined;
  const modulePath = path.resolve(process.cwd(), options.requests.module);
  const factory = require(modulePath) as { requests: (args: unknown) => autocannon.Request[] };
  return factory.requests(options.requests.args);
}

/** Closed loop, as fast as the server answers: each connection sends its next request when the last one is answered. */
async function runClosedLoop(options: LoadOptions): Promise<LoadResult> {
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
    timeout: options.timeoutSeconds ?? 10,
    requests: requestSource(options),
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

/**
 * Open loop at a constant rate (what wrk2 does): request i starts at t0 + i/rate whether or not earlier ones were
 * answered, over at most `connections` keep-alive sockets, and its latency counts from that intended start, so a
 * server that falls behind is charged for the queueing it causes. autocannon's `overallRate` is not this: each
 * connection sends its whole per-second quota back to back when a 1 s timer resets it (lib/httpClient.js), which
 * turns "n per second" into a burst at full speed at the top of every second.
 */
async function runPaced(options: LoadOptions & { rate: number }): Promise<LoadResult> {
  const target = new URL(options.url);
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections ?? 50 });
  const factory = requestSource(options)?.[0];
  const base: autocannon.Request = {
    method: factory?.method ?? options.method ?? 'GET',
    path: factory?.path ?? `${target.pathname}${target.search}`,
    headers: { ...options.headers },
    body: options.body,
  };
  const total = Math.round(options.rate * (options.duration ?? 10));
  const intervalMs = 1000 / options.rate;
  const timeoutMs = (options.timeoutSeconds ?? 10) * 1000;
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  let errors = 0;
  let timeouts = 0;
  let settled = 0;
  const started = performance.now();

  await new Promise<void>((resolve) => {
    const done = () => {
      settled += 1;
      if (settled === total) resolve();
    };
    const send = (intendedStart: number) => {
      const spec = factory?.setupRequest ? (factory.setupRequest({ ...base, headers: { ...base.headers } }, {}) ?? base) : base;
      const body = spec.body === undefined ? undefined : Buffer.from(spec.body);
      let answered = false;
      const req = request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          method: spec.method,
          path: spec.path,
          headers: { ...spec.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
          timeout: timeoutMs,
        },
        (res) => {
          answered = true;
          res.resume();
          // 'close' comes whether the body arrived whole or the connection broke off midway ('end' only for the first)
          res.once('close', () => {
            if (res.complete) {
              latencies.push(performance.now() - intendedStart);
              const code = String(res.statusCode);
              statusCodes[code] = (statusCodes[code] ?? 0) + 1;
            } else {
              errors += 1;
            }
            done();
          });
        },
      );
      req.once('timeout', () => {
        timeouts += 1;
        req.destroy(new Error('timeout'));
      });
      // after a response, its 'close' settles the request
      req.once('error', () => {
        if (answered) return;
        errors += 1;
        done();
      });
      req.end(body);
    };
    let next = 0;
    const tick = () => {
      const now = performance.now();
      for (; next < total && started + next * intervalMs <= now; next++) send(started + next * intervalMs);
      if (next < total) setTimeout(tick, Math.max(0, started + next * intervalMs - performance.now()));
    };
    tick();
  });
  agent.destroy();
  const durationSeconds = (performance.now() - started) / 1000;
  const answered = latencies.length;
  const non2xx = Object.entries(statusCodes).reduce((n, [code, count]) => (code.startsWith('2') ? n : n + count), 0);
  return {
    rps: answered / durationSeconds,
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    meanLatency: latencies.reduce((a, b) => a + b, 0) / Math.max(1, answered),
    maxLatency: latencies.reduce((max, l) => Math.max(max, l), 0),
    total: answered,
    non2xx,
    errors,
    timeouts,
    statusCodes,
    durationSeconds,
  };
}

process.once('message', (options: LoadOptions) => {
  (options.rate ? runPaced({ ...options, rate: options.rate }) : runClosedLoop(options))
    .then((result) => process.send!({ result }, () => process.exit(0)))
    .catch((err: Error) => process.send!({ error: err.stack ?? String(err) }, () => process.exit(1)));
});
