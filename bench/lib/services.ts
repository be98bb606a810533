import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { METRICS_PORT_OFFSETS } from '@saas/http';
import { freePort } from '@saas/testing';

export { freePort };

export const WORKSPACE = path.resolve(__dirname, '../..');

export type ServiceName = 'identity-service' | 'webhook-gateway' | 'integration-worker' | 'api-gateway';

const PORT_VARIABLE: Record<ServiceName, string> = {
  'identity-service': 'IDENTITY_SERVICE_PORT',
  'webhook-gateway': 'WEBHOOK_GATEWAY_PORT',
  'integration-worker': 'INTEGRATION_WORKER_PORT',
  'api-gateway': 'API_GATEWAY_PORT',
};

/** `dist` (what `npm start` runs; built once per process by ensureBuilt) or `source` (swc on the fly, slower to start, larger RSS). */
export type ServiceOrigin = 'dist' | 'source';

let built = false;
/** Builds every app with Nx (cached when nothing changed) unless BENCH_SKIP_BUILD=1. */
export function ensureBuilt(): void {
  if (built || process.env['BENCH_SKIP_BUILD']) return;
  const result = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '--outputStyle=static'], {
    cwd: WORKSPACE,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
  });
  if (result.status !== 0) throw new Error('nx build failed');
  built = true;
}

/** The Node.js flags every service ships with (deploy/node-flags; also read by deploy/Dockerfile and `npm start`). */
export const NODE_FLAGS = readFileSync(path.join(WORKSPACE, 'deploy/node-flags'), 'utf8')
  .split('\n')
  .filter((line) => line.trim() && !line.startsWith('#'))
  .map((line) => line.trim());

/** BENCH_BUILDS for the paired A/B benches: `label=folder` entries, comma-separated (default: dist/apps alone). */
export function buildsToCompare(): { label: string; folder: string }[] {
  return (process.env['BENCH_BUILDS'] ?? 'dist=dist/apps').split(',').map((entry) => {
    const [label, folder] = entry.split('=');
    if (!label || !folder) throw new Error(`BENCH_BUILDS entry "${entry}" is not label=folder`);
    return { label, folder };
  });
}

export interface MemoryReading {
  /** The highest resident set size so far (VmHWM). */
  peak_mb: number;
  /** The resident set size now (VmRSS): read after a load, what the service keeps. */
  now_mb: number;
}

const TICKS_PER_MS = 100 / 1000; // USER_HZ is 100 on Linux

/** CPU time (user + system) a process has used so far, in ms, from /proc; 0 once it has exited. */
export function cpuMsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_MS;
  } catch {
    return 0;
  }
}

/** A live process's resident memory in MB, from /proc; null once it has exited. */
export function memoryOf(pid: number): MemoryReading | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const mb = (field: string) => Math.round(Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]) / 102.4) / 10;
    return { peak_mb: mb('VmHWM'), now_mb: mb('VmRSS') };
  } catch {
    return null;
  }
}

export interface ServiceProcess {
  name: ServiceName;
  port: number;
  url: string;
  /** Its metrics listener (GET /metrics; the public port does not serve it). */
  metricsUrl: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** SIGTERM (graceful) and wait for the exit; SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
  /** SIGKILL, no cleanup. */
  kill(): Promise<void>;
}

export interface StartOptions {
  env: Record<string, string>;
  /** Fixed port (default: a free one). */
  port?: number;
  origin?: ServiceOrigin;
  /** Extra name for the log file when several replicas run. */
  instance?: string;
  readyTimeoutMs?: number;
  nodeArgs?: string[];
  /**
   * A folder holding `<app>/main.js` to run instead of dist/apps, e.g. a copy of dist/apps taken before a change, for
   * paired A/B runs of two builds (it finds its packages through NODE_PATH, and is not built).
   */
  build?: string;
}

/** The bench run's log file for one process (the folder is created on first use). */
function benchLogFile(env: Record<string, string>, name: string): string {
  const logDir = path.join(os.tmpdir(), `saas-bench-${env['TEST_RUN_ID'] ?? 'run'}`);
  mkdirSync(logDir, { recursive: true });
  return path.join(logDir, `${name}.log`);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function waitReady(url: string, timeoutMs: number, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {
      /* not listening yet */
    }
    if (!alive()) throw new Error(`${url} exited before it became ready`);
    if (Date.now() > deadline) throw new Error(`${url}/readyz not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** Starts one service as its own Node process and resolves once its /readyz answers 200. Logs go to a file. */
export async function startService(name: ServiceName, options: StartOptions): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort());
  // A free port for the metrics listener too (replicas and parallel runs would collide on the defaults): METRICS_PORT
  // is the base the app adds its offset to.
  const metricsPort = await freePort();
  const origin = options.origin ?? (process.env['BENCH_FROM_SOURCE'] ? 'source' : 'dist');
  // a copied build runs as it is; dist/apps is built first
  const builtApps = options.build ? path.resolve(WORKSPACE, options.build) : origin === 'dist' ? path.join(WORKSPACE, 'dist/apps') : undefined;
  if (builtApps && !options.build) ensureBuilt();
  const main = builtApps && path.join(builtApps, name, 'main.js');
  if (main && !existsSync(main)) throw new Error(`${main} is missing: build the apps first`);
  const entry = main ? [main] : ['-r', path.join(WORKSPACE, 'libs/testing/src/register-ts.cjs'), path.join(WORKSPACE, 'apps', name, 'src/main.ts')];
  const logFile = benchLogFile(options.env, `${name}${options.instance ? `-${options.instance}` : ''}`);
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...NODE_FLAGS, ...(options.nodeArgs ?? []), ...entry], {
    cwd: WORKSPACE,
    env: {
      ...options.env,
      [PORT_VARIABLE[name]]: String(port),
      METRICS_PORT: String(metricsPort - METRICS_PORT_OFFSETS[name]),
      ...(options.build ? { NODE_PATH: path.join(WORKSPACE, 'node_modules') } : {}) },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const url = `http://127.0.0.1:${port}`;
  const service: ServiceProcess = {
    name,
    port,
    url,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    child,
    pid: child.pid!,
    logFile,
    stop: async (timeoutMs = 15000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited(child);
      clearTimeout(timer);
    },
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited(child);
    },
  };
  try {
    await waitReady(url, options.readyTimeoutMs ?? 60000, () => child.exitCode === null && child.signalCode === null);
  } catch (err) {
    await service.kill();
    const tail = readFileSync(logFile, 'utf8').slice(-2000);
    throw new Error(`${name} did not start: ${(err as Error).message}\n${tail}`, { cause: err });
  }
  return service;
}

export interface Stack {
  identity: ServiceProcess;
  webhooks: ServiceProcess;
  worker: ServiceProcess;
  gateway: ServiceProcess;
  all: ServiceProcess[];
  stop(): Promise<void>;
}

/** The four services wired as `npm start` wires them, on free ports, in this run's isolated world. */
export async function startStack(env: Record<string, string>, origin?: ServiceOrigin): Promise<Stack> {
  const [identity, webhooks, worker] = await Promise.all([
    startService('identity-service', { env, origin }),
    startService('webhook-gateway', { env, origin }),
    startService('integration-worker', { env, origin }),
  ]);
  const gateway = await startService('api-gateway', {
    env: { ...env, IDENTITY_SERVICE_URL: identity.url, WEBHOOK_GATEWAY_URL: webhooks.url, INTEGRATION_WORKER_URL: worker.url },
    origin,
  });
  const all = [identity, webhooks, worker, gateway];
  return {
    identity,
    webhooks,
    worker,
    gateway,
    all,
    stop: async () => {
      await Promise.all(all.map((s) => s.stop()));
    },
  };
}

/**
 * Runs a bench-only reference server (TypeScript, from source; it listens on BENCH_PORT) as its own process on a
 * free port, once its /readyz answers. It gets the services' Node.js flags, so a reference and a service compete
 * under the same heap settings.
 */
export async function startBenchScript(
  entry: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const fd = openSync(benchLogFile(env, path.basename(entry, '.ts')), 'a');
  const child = spawn(process.execPath, [...NODE_FLAGS, ...nodeArgs, '-r', path.join(WORKSPACE, 'libs/testing/src/register-ts.cjs'), entry], {
    cwd: WORKSPACE,
    env: { ...env, BENCH_PORT: String(port) },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url, 60000, () => child.exitCode === null);
  return {
    url,
    pid: child.pid ?? 0,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await exited(child);
    },
  };
}
