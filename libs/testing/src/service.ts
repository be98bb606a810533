import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import type { Express } from 'express';
import { configSchemas, loadConfig } from '@saas/config';
import { startServer, type RunningServer } from '@saas/http';
import pino from 'pino';

type SchemaName = keyof typeof configSchemas;

/** The app's config as a test run sees it: the run's isolated database/prefixes plus per-test overrides. */
export function testConfig<C>(name: SchemaName, overrides: Record<string, string | number | boolean> = {}): C {
  const env = { ...process.env, ...Object.fromEntries(Object.entries(overrides).map(([k, v]) => [k, String(v)])) };
  return loadConfig<C>(configSchemas[name], env);
}

export interface StartedApp extends RunningServer {
  url: string;
}

/** Starts an app on an ephemeral port (no signal handlers), as a component test's real HTTP server. */
export async function startApp(app: Express, onShutdown?: () => Promise<void>): Promise<StartedApp> {
  const running = await startServer(app, 0, { logger: pino({ level: 'silent' }), shutdownTimeoutMs: 2000, handleSignals: false, onShutdown });
  return { ...running, url: `http://127.0.0.1:${running.port}` };
}

const workspaceRoot = path.resolve(__dirname, '../../..');

/**
 * Runs a TypeScript entry point (an app's main.ts or a fixture) in its own Node process, from source, with the
 * test run's environment plus `env`. For tests of process behaviour: signals, crashes, exit codes.
 */
export function spawnTs(entry: string, env: Record<string, string | number | boolean> = {}): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, ['-r', path.join(__dirname, 'register-ts.cjs'), path.resolve(workspaceRoot, entry)], {
    cwd: workspaceRoot,
    env: { ...process.env, ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  return Object.assign(child, { output: () => output });
}

export function waitForExit(child: ChildProcess, timeoutMs = 15000): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('process did not exit in time')), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** Polls `probe` until it returns a truthy value (or throws after the timeout). For asynchronous outcomes. */
export async function eventually<T>(probe: () => Promise<T | undefined | null | false>, timeoutMs = 10000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A TCP port nothing listens on right now (for a process or proxy a test starts and stops itself). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
