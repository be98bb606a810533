import type Redis from 'ioredis';
import type { IntegrationService } from './topology';

/**
 * Circuit state of each service's consumer, shared through Redis so that other processes (the status API) can
 * see what the workers' in-memory breakers decided. One hash per service, one field per worker instance.
 */
export type CircuitState = 'closed' | 'open' | 'half_open';

/** A report older than this is from a worker that stopped; it no longer counts. */
export const CIRCUIT_REPORT_STALE_MS = 30_000;

export const circuitKey = (prefix: string, service: IntegrationService) => `${prefix}integration:circuit:${service}`;

export async function reportCircuitState(redis: Redis, prefix: string, service: IntegrationService, instance: string, state: CircuitState): Promise<void> {
  const key = circuitKey(prefix, service);
  await redis.multi().hset(key, instance, `${state}|${Date.now()}`).pexpire(key, CIRCUIT_REPORT_STALE_MS * 2).exec();
}

export async function removeCircuitReport(redis: Redis, prefix: string, service: IntegrationService, instance: string): Promise<void> {
  await redis.hdel(circuitKey(prefix, service), instance);
}

/** The worst fresh state any worker reports (open > half_open > closed); `unknown` when no worker reports. */
export async function readCircuitState(redis: Redis, prefix: string, service: IntegrationService, now = Date.now()): Promise<CircuitState | 'unknown'> {
  const reports = Object.values(await redis.hgetall(circuitKey(prefix, service)))
    .map((value) => value.split('|'))
    .filter(([, at]) => now - Number(at) <= CIRCUIT_REPORT_STALE_MS)
    .map(([state]) => state as CircuitState);
  if (!reports.length) return 'unknown';
  for (const state of ['open', 'half_open'] as const) if (reports.includes(state)) return state;
  return 'closed';
}
