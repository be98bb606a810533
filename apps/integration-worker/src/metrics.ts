import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ChannelWrapper } from 'amqp-connection-manager';
import { SERVICES, type CircuitState, type TopologyNames } from '@saas/messaging';

export const CIRCUIT_STATE_VALUE: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 };

export interface WorkerMetrics {
  processed: Counter<'service' | 'outcome'>;
  retried: Counter<'service'>;
  failed: Counter<'service' | 'reason'>;
  retriesRepublished: Counter;
  processingSeconds: Histogram<'service'>;
  receiptToProcessedSeconds: Histogram<'service'>;
  circuitState: Gauge<'service'>;
}

/** The worker's instruments on the service registry; queue depths are read from the broker at scrape time. */
export function createWorkerMetrics(registry: Registry, channel: ChannelWrapper, names: TopologyNames): WorkerMetrics {
  const registers = [registry];
  new Gauge({
    name: 'integration_queue_depth',
    help: 'Messages ready in each integration queue (service queues, retry ladder, dead letters)',
    labelNames: ['queue'],
    registers,
    async collect() {
      const queues = [...SERVICES.map(names.serviceQueue), ...names.retryDelays.map(names.retryQueue), names.deadLetterQueue];
      for (const queue of queues) {
        try {
          this.set({ queue }, (await channel.checkQueue(queue)).messageCount);
        } catch {
          // Broker unreachable: this scrape has no depth for the queue rather than a stale one.
          this.remove({ queue });
        }
      }
    },
  });
  return {
    processed: new Counter({ name: 'integration_events_processed_total', help: 'Events finished without failure, by outcome (processed|skipped)', labelNames: ['service', 'outcome'], registers }),
    retried: new Counter({ name: 'integration_events_retried_total', help: 'Failed attempts sent to the retry ladder', labelNames: ['service'], registers }),
    failed: new Counter({ name: 'integration_events_failed_total', help: 'Events dead-lettered, by reason (permanent|retries_exhausted)', labelNames: ['service', 'reason'], registers }),
    retriesRepublished: new Counter({
      name: 'integration_retries_republished_total',
      help: 'Retries that never came back from the delay queues, republished by the stranded-retry relay (a broker losing dead letters)',
      registers,
    }),
    processingSeconds: new Histogram({
      name: 'integration_event_processing_seconds',
      help: 'Time to handle one delivery, provider call included',
      labelNames: ['service'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    receiptToProcessedSeconds: new Histogram({
      name: 'integration_event_receipt_to_processed_seconds',
      help: 'From webhook receipt to the event committed as processed',
      labelNames: ['service'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    circuitState: new Gauge({ name: 'integration_circuit_state', help: 'Provider circuit: 0 closed, 1 half-open, 2 open', labelNames: ['service'], registers }),
  };
}
