import { SecretBox } from '@saas/auth';
import type { WebhookGatewayConfig } from '@saas/config';
import { OutboxRelay } from '@saas/messaging';
import type { ServiceRuntime } from '@saas/runtime';
import { SourceRegistry } from '../sources/registry';
import { IngestPipeline } from './ingest';
import { createWebhookMetrics, type WebhookMetrics } from './metrics';
import { OrganizationResolver } from './organizations';

export interface WebhookComponents {
  metrics: WebhookMetrics;
  organizations: OrganizationResolver;
  /** Integration source secrets, sealed and opened with INTEGRATION_SECRETS_KEY. */
  secrets: SecretBox;
  /** Active sources by id, cached for the webhook hot path. */
  sources: SourceRegistry;
  pipeline: IngestPipeline;
  relay: OutboxRelay;
}

const ORG_CACHE_TTL_MS = 5000;
const SOURCE_CACHE_TTL_MS = 5000;

/**
 * The webhook gateway's long-lived parts, built once by main.ts (or a test) and handed to buildWebhookApp: the
 * routes use them, and main.ts starts the relay and drains the pipeline on shutdown.
 */
export function createWebhookComponents(runtime: ServiceRuntime<WebhookGatewayConfig>): WebhookComponents {
  const { config, db, broker, logger } = runtime;
  const metrics = createWebhookMetrics(runtime.metrics.registry);
  // A direct publish that takes longer than this is handed to the relay, which only looks at older rows.
  const publishTimeoutMs = Math.max(1000, Math.min(10000, Math.floor(config.OUTBOX_RELAY_MIN_AGE_MS / 2)));
  const secrets = new SecretBox(config.INTEGRATION_SECRETS_KEY);
  return {
    metrics,
    organizations: new OrganizationResolver(db, ORG_CACHE_TTL_MS),
    secrets,
    sources: new SourceRegistry(db, secrets, SOURCE_CACHE_TTL_MS),
    pipeline: new IngestPipeline({
      db,
      broker,
      logger,
      metrics,
      lingerMs: config.INGEST_LINGER_MS,
      maxGroupEvents: config.INGEST_MAX_BATCH_EVENTS,
      // A bounded number of groups at a time: whatever arrives while they commit forms the next, larger group. Two
      // connections stay free for organization lookups, published marks, the relay and the integration reads.
      maxInFlight: Math.max(1, Math.min(8, config.DATABASE_POOL_MAX - 2)),
      publishTimeoutMs,
      // A twentieth of the relay's minimum age, at most 100 ms: the relay never sees a row waiting for its mark.
      markWindowMs: Math.min(100, Math.floor(config.OUTBOX_RELAY_MIN_AGE_MS / 20)),
    }),
    relay: new OutboxRelay({
      db,
      broker,
      logger,
      intervalMs: config.OUTBOX_RELAY_INTERVAL_MS,
      minAgeMs: config.OUTBOX_RELAY_MIN_AGE_MS,
      publishTimeoutMs: 10000,
      onBacklog: (n) => metrics.backlog.set(n),
      onRelayed: (n) => metrics.published.inc({ path: 'relay' }, n),
    }),
  };
}
