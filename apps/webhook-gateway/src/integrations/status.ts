import type Redis from 'ioredis';
import { readIntegrationStatus, type Database, type Transaction } from '@saas/db';
import { readCircuitState, SERVICES, type CircuitState, type IntegrationService } from '@saas/messaging';

export type IntegrationHealth = 'idle' | 'healthy' | 'degraded' | 'error';

export interface ServiceStatus {
  status: IntegrationHealth;
  last_success: string | null;
  last_event_id: string | null;
  last_failure: string | null;
  last_error: string | null;
  processed: number;
  retried: number;
  failed: number;
  pending: number;
  circuit: CircuitState | 'unknown';
}

// The status's statements are in @saas/db (access/webhook-events); bench/scale measures them through this name.

/**
 * README "Read the integration status", per service over the window: idle (no event ever); error (circuit open, or
 * failures and no success ever, or the last three finished events all failed); degraded (any retry or failure in the
 * window); else healthy.
 */
export async function integrationStatus(
  db: Database,
  tx: Transaction,
  redis: Redis,
  options: { orgId: string | null; windowSeconds: number; redisPrefix: string; now?: Date },
): Promise<Record<IntegrationService, ServiceStatus>> {
  const since = new Date((options.now ?? new Date()).getTime() - options.windowSeconds * 1000);
  const { figures, window } = await readIntegrationStatus(tx, options.orgId, since);

  const result = {} as Record<IntegrationService, ServiceStatus>;
  for (const service of SERVICES) {
    const f = figures.find((row) => row.service === service);
    const count = (outcome: string) => window.find((w) => w.service === service && w.outcome === outcome)?.n ?? 0;
    const lastThree = f?.recent_terminal ?? [];
    const circuit = await readCircuitState(redis, options.redisPrefix, service).catch(() => 'unknown' as const);
    const counts = { processed: count('processed'), retried: count('retrying'), failed: count('failed') };

    let status: IntegrationHealth = 'healthy';
    if (!f?.has_events) status = 'idle';
    else if (circuit === 'open' || (!f.any_success && f.any_failure) || (lastThree.length === 3 && lastThree.every((r) => r === 'failed')))
      status = 'error';
    else if (counts.retried + counts.failed > 0) status = 'degraded';

    result[service] = {
      status,
      last_success: f?.last_success ? new Date(f.last_success).toISOString() : null,
      last_event_id: f?.last_event_id ?? null,
      last_failure: f?.last_failure ? new Date(f.last_failure).toISOString() : null,
      last_error: f?.last_error ?? null,
      ...counts,
      pending: f?.pending ?? 0,
      circuit,
    };
  }
  return result;
}
