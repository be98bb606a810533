import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The webhook gateway's own instruments, on the service's registry (GET /metrics). */
export function createWebhookMetrics(registry: Registry) {
  return {
    events: new Counter({
      name: 'webhook_events_total',
      help: 'Webhook events by service and result (accepted, duplicate, rejected) and rejection code',
      labelNames: ['service', 'result', 'code'],
      registers: [registry],
    }),
    requests: new Counter({
      name: 'webhook_requests_total',
      help: 'Webhook requests by service and outcome (received, unauthorized, invalid, rate_limited, unavailable, error)',
      labelNames: ['service', 'outcome'],
      registers: [registry],
    }),
    ingestLatency: new Histogram({
      name: 'webhook_ingest_duration_seconds',
      help: 'From receipt to committed answer, per webhook request',
      labelNames: ['service', 'kind'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    groupSize: new Histogram({
      name: 'webhook_ingest_group_events',
      help: 'Events committed per grouped transaction',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
      registers: [registry],
    }),
    commitLatency: new Histogram({
      name: 'webhook_ingest_commit_duration_seconds',
      help: 'Duration of one grouped insert transaction',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    published: new Counter({
      name: 'webhook_outbox_published_total',
      help: 'Events confirmed by the broker, by path (direct after commit, or relay)',
      labelNames: ['path'],
      registers: [registry],
    }),
    publishFailures: new Counter({
      name: 'webhook_publish_failures_total',
      help: 'Direct publishes not confirmed in time (left to the outbox relay)',
      registers: [registry],
    }),
    backlog: new Gauge({
      name: 'webhook_outbox_backlog',
      help: 'Events committed but not yet confirmed by the broker (as of the last relay pass)',
      registers: [registry],
    }),
    rateLimitStoreErrors: new Counter({
      name: 'webhook_rate_limit_store_errors_total',
      help: 'Rate-limit checks that failed open because Redis was unavailable',
      registers: [registry],
    }),
  };
}

export type WebhookMetrics = ReturnType<typeof createWebhookMetrics>;
