import { fork } from 'node:child_process';
import path from 'node:path';
import { WORKSPACE } from './services';

/**
 * One autocannon run, executed in its own Node process so the load generator never shares an event loop with
 * the code under test. Bodies that must differ per request (signed webhooks: a fresh id and signature each)
 * come from `requests`: a module (path relative to the workspace or absolute) whose `export function
 * requests(args)` returns autocannon request objects with `setupRequest`.
 */
export interface LoadOptions {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  connections?: number;
  pipelining?: number;
  /** Seconds (default 10); ignored when `amount` is set. */
  duration?: number;
  amount?: number;
  /**
   * Requests per second, started at evenly spaced instants whatever the answers (open loop; `duration` seconds of
   * them, over at most `connections` sockets; latency from each request's intended start). Unset: closed loop with
   * autocannon, as fast as the server answers.
   */
  rate?: number;
  timeoutSeconds?: number;
  requests?: { module: string; args?: unknown };
}

export interface LoadResult {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  meanLatency: number;
  maxLatency: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  durationSeconds: number;
}

const CHILD = path.join(__dirname, 'load-child.ts');

export function runLoad(options: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [], {
      cwd: WORKSPACE,
      execArgv: ['-r', path.join(WORKSPACE, 'libs/testing/src/register-ts.cjs')],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: LoadResult | undefined;
    let failure: string | undefined;
    child.on('message', (m: { result?: LoadResult; error?: string }) => {
      result = m.result;
      failure = m.error;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (result) resolve(result);
      else reject(new Error(`load generator failed (exit ${code}): ${failure ?? 'no result'}`));
    });
    child.send(options);
  });
}
