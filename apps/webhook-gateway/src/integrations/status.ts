import { QueryTypes } from 'sequelize';
import type Redis from 'ioredis';
import type { Database, Transaction } from '@saas/db';
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

interface Totals {
  service: IntegrationService;
  events: number;
  successes: number;
  attempt_failures: number;
  pending: number;
  last_success: Date | null;
}

// One statement per figure family; each filters by organization only when the scope names one ($1 NULL = all).
const TOTALS_SQL = `
  SELECT service,
         count(*)::int AS events,
         count(*) FILTER (WHERE status IN ('processed', 'skipped'))::int AS successes,
         count(*) FILTER (WHERE status IN ('retrying', 'failed') OR last_error IS NOT NULL)::int AS attempt_failures,
         count(*) FILTER (WHERE status IN ('received', 'queued', 'retrying'))::int AS pending,
         max(processed_at) FILTER (WHERE status = 'processed') AS last_success
    FROM webhook_events
   WHERE ($1::uuid IS NULL OR org_id = $1::uuid)
   GROUP BY service`;

// Attempts are counted from each event's history, so a retry is counted when it happened, not when the event ends.
const WINDOW_SQL = `
  SELECT e.service, h->>'outcome' AS outcome, count(*)::int AS n
    FROM webhook_events e, jsonb_array_elements(e.history) h
   WHERE ($1::uuid IS NULL OR e.org_id = $1::uuid)
     AND e.updated_at >= $2 AND (h->>'at')::timestamptz >= $2
   GROUP BY 1, 2`;

const LAST_EVENT_SQL = `
  SELECT DISTINCT ON (service) service, event_id
    FROM webhook_events
   WHERE ($1::uuid IS NULL OR org_id = $1::uuid)
   ORDER BY service, received_at DESC, id DESC`;

const LAST_FAILURE_SQL = `
  SELECT DISTINCT ON (e.service) e.service, (h->>'at')::timestamptz AS at, h->>'error' AS error
    FROM webhook_events e, jsonb_array_elements(e.history) h
   WHERE ($1::uuid IS NULL OR e.org_id = $1::uuid)
     AND e.last_error IS NOT NULL AND h->>'outcome' IN ('retrying', 'failed')
   ORDER BY e.service, (h->>'at')::timestamptz DESC`;

/** The last three finished events of each service, newest first: three failures in a row is an outage. */
const RECENT_TERMINAL_SQL = `
  SELECT service, status FROM (
    SELECT service, status, row_number() OVER (PARTITION BY service ORDER BY updated_at DESC, id DESC) AS rank
      FROM webhook_events
     WHERE ($1::uuid IS NULL OR org_id = $1::uuid) AND status IN ('processed', 'skipped', 'failed')
  ) recent WHERE rank <= 3`;

async function rows<T extends object>(db: Database, tx: Transaction, sql: string, bind: unknown[]): Promise<T[]> {
  return db.sequelize.query<T>(sql, { bind, type: QueryTypes.SELECT, transaction: tx });
}

/**
 * DESIGN §6, per service over the window: idle (no event ever); error (circuit open, or failures and no success
 * ever, or the last three finished events all failed); degraded (any retry or failure in the window); else healthy.
 */
export async function integrationStatus(
  db: Database,
  tx: Transaction,
  redis: Redis,
  options: { orgId: string | null; windowSeconds: number; redisPrefix: string; now?: Date },
): Promise<Record<IntegrationService, ServiceStatus>> {
  const since = new Date((options.now ?? new Date()).getTime() - options.windowSeconds * 1000);
  // one query at a time: a transaction's client runs statements sequentially
  const totals = await rows<Totals>(db, tx, TOTALS_SQL, [options.orgId]);
  const window = await rows<{ service: string; outcome: string; n: number }>(db, tx, WINDOW_SQL, [options.orgId, since]);
  const lastEvents = await rows<{ service: string; event_id: string }>(db, tx, LAST_EVENT_SQL, [options.orgId]);
  const lastFailures = await rows<{ service: string; at: Date; error: string | null }>(db, tx, LAST_FAILURE_SQL, [options.orgId]);
  const recent = await rows<{ service: string; status: string }>(db, tx, RECENT_TERMINAL_SQL, [options.orgId]);

  const result = {} as Record<IntegrationService, ServiceStatus>;
  for (const service of SERVICES) {
    const total = totals.find((t) => t.service === service);
    const count = (outcome: string) => window.find((w) => w.service === service && w.outcome === outcome)?.n ?? 0;
    const lastFailure = lastFailures.find((f) => f.service === service);
    const lastThree = recent.filter((r) => r.service === service);
    const circuit = await readCircuitState(redis, options.redisPrefix, service).catch(() => 'unknown' as const);
    const figures = { processed: count('processed'), retried: count('retrying'), failed: count('failed') };

    let status: IntegrationHealth = 'healthy';
    if (!total?.events) status = 'idle';
    else if (
      circuit === 'open' ||
      (total.successes === 0 && total.attempt_failures > 0) ||
      (lastThree.length === 3 && lastThree.every((r) => r.status === 'failed'))
    )
      status = 'error';
    else if (figures.retried + figures.failed > 0) status = 'degraded';

    result[service] = {
      status,
      last_success: total?.last_success ? new Date(total.last_success).toISOString() : null,
      last_event_id: lastEvents.find((e) => e.service === service)?.event_id ?? null,
      last_failure: lastFailure ? new Date(lastFailure.at).toISOString() : null,
      last_error: lastFailure?.error ?? null,
      ...figures,
      pending: total?.pending ?? 0,
      circuit,
    };
  }
  return result;
}
