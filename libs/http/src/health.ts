import type { Router } from 'express';
import express from 'express';

/** Named probes of the dependencies a service needs to serve traffic; each resolves when reachable. */
export type ReadinessChecks = Record<string, () => Promise<unknown>>;

const CHECK_TIMEOUT_MS = 2000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export interface Readiness {
  ready: boolean;
  /** Each check by name: `ok` or `down`, never its error, which may name an internal address (it is logged instead). */
  checks: Record<string, 'ok' | 'down'>;
  /** The failed checks' error messages, for the log. */
  failures: Record<string, string>;
}

export async function runReadiness(checks: ReadinessChecks): Promise<Readiness> {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await withTimeout(check(), CHECK_TIMEOUT_MS);
        return [name, undefined] as const;
      } catch (err) {
        return [name, (err as Error).message] as const;
      }
    }),
  );
  const failures = Object.fromEntries(results.filter((r): r is readonly [string, string] => r[1] !== undefined));
  return {
    ready: Object.keys(failures).length === 0,
    checks: Object.fromEntries(results.map(([name, failure]) => [name, failure === undefined ? 'ok' : 'down'])),
    failures,
  };
}

/** `/healthz` and `/readyz` (metrics have a listener of their own: createMetricsApp). */
export function operationalRoutes(service: string, readiness: ReadinessChecks): Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', service });
  });
  router.get('/readyz', async (req, res) => {
    const result = await runReadiness(readiness);
    if (!result.ready) req.log.warn({ failures: result.failures }, 'not ready');
    res.status(result.ready ? 200 : 503).json({ status: result.ready ? 'ready' : 'unavailable', service, checks: result.checks });
  });
  return router;
}
