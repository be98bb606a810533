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

interface ServiceFigures {
  service: IntegrationService;
  has_events: boolean;
  last_event_id: string | null;
  last_success: Date | null;
  any_success: boolean;
  any_failure: boolean;
  pending: number;
  recent_terminal: string[] | null;
  last_failure: Date | null;
  last_error: string | null;
}

/**
 * Per service, each figure reads only that service's newest rows through an index (migration 0003 per organization,
 * 0005 across them), so the cost does not grow with history (1M events: a few ms instead of seconds). `{org}` is
 * the organization filter, or nothing for a superadmin's all-organizations view.
 */
const figuresSql = (org: string) => `
  SELECT s.service,
         EXISTS (SELECT 1 FROM webhook_events e WHERE ${org} e.service = s.service) AS has_events,
         (SELECT e.event_id FROM webhook_events e WHERE ${org} e.service = s.service
           ORDER BY e.received_at DESC, e.id DESC LIMIT 1) AS last_event_id,
         (SELECT e.processed_at FROM webhook_events e WHERE ${org} e.service = s.service AND e.status = 'processed'
           ORDER BY e.updated_at DESC, e.id DESC LIMIT 1) AS last_success,
         EXISTS (SELECT 1 FROM webhook_events e WHERE ${org} e.service = s.service AND e.status IN ('processed', 'skipped')) AS any_success,
         (EXISTS (SELECT 1 FROM webhook_events e WHERE ${org} e.service = s.service AND e.last_error IS NOT NULL)
           OR EXISTS (SELECT 1 FROM webhook_events e WHERE ${org} e.service = s.service AND e.status IN ('retrying', 'failed'))) AS any_failure,
         (SELECT count(*) FROM webhook_events e WHERE ${org} e.service = s.service
           AND e.status IN ('received', 'queued', 'retrying'))::int AS pending,
         -- the last three finished events, newest first: three failures in a row is an outage
         (SELECT array_agg(t.status) FROM (SELECT e.status FROM webhook_events e WHERE ${org} e.service = s.service
           AND e.status IN ('processed', 'skipped', 'failed') ORDER BY e.updated_at DESC, e.id DESC LIMIT 3) t) AS recent_terminal,
         lf.at AS last_failure, lf.error AS last_error
    FROM unnest($2::text[]) AS s(service)
    LEFT JOIN LATERAL (
      SELECT (h->>'at')::timestamptz AS at, h->>'error' AS error
        FROM (SELECT e.history FROM webhook_events e WHERE ${org} e.service = s.service AND e.last_error IS NOT NULL
               ORDER BY e.updated_at DESC LIMIT 1) failed, jsonb_array_elements(failed.history) h
       WHERE h->>'outcome' IN ('retrying', 'failed')
       ORDER BY (h->>'at')::timestamptz DESC LIMIT 1
    ) lf ON true`;

// Attempts are counted from each event's history, so a retry is counted when it happened, not when the event ends.
const windowSql = (org: string) => `
  SELECT e.service, h->>'outcome' AS outcome, count(*)::int AS n
    FROM webhook_events e, jsonb_array_elements(e.history) h
   WHERE ${org} e.service = ANY($2::text[]) AND e.updated_at >= $3 AND (h->>'at')::timestamptz >= $3
   GROUP BY 1, 2`;

/** The status's statements for one organization (or, with null, all of them), as bench/scale measures them too. */
export function statusStatements(orgId: string | null, since: Date): Record<'figures' | 'window', { sql: string; bind: unknown[] }> {
  const org = orgId ? 'e.org_id = $1::uuid AND' : '$1::uuid IS NULL AND';
  const bind = [orgId, [...SERVICES]];
  return { figures: { sql: figuresSql(org), bind }, window: { sql: windowSql(org), bind: [...bind, since] } };
}

async function rows<T extends object>(db: Database, tx: Transaction, sql: string, bind: unknown[]): Promise<T[]> {
  return db.sequelize.query<T>(sql, { bind, type: QueryTypes.SELECT, transaction: tx });
}

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
  const statements = statusStatements(options.orgId, since);
  // one query at a time: a transaction's client runs statements sequentially
  const figures = await rows<ServiceFigures>(db, tx, statements.figures.sql, statements.figures.bind);
  const window = await rows<{ service: string; outcome: string; n: number }>(db, tx, statements.window.sql, statements.window.bind);

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
