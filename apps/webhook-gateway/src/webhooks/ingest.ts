import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { storeWebhookEvents, type Database, type OutboxEventRow, type WebhookEventToStore } from '@saas/db';
import { isDatabaseUnavailable, ServiceUnavailableError } from '@saas/http';
import { PublishedMarker, publishIntegrationEvents, type Broker } from '@saas/messaging';
import type { WebhookMetrics } from './metrics';

export type IngestResult = 'accepted' | 'duplicate';

interface Submission {
  items: WebhookEventToStore[];
  resolve: (results: IngestResult[]) => void;
  reject: (err: unknown) => void;
}

export interface IngestPipelineOptions {
  db: Database;
  broker: Broker;
  logger: Logger;
  metrics: WebhookMetrics;
  /** How long the first waiting request holds the door open for others (INGEST_LINGER_MS). */
  lingerMs: number;
  /** Most events per grouped transaction (INGEST_MAX_BATCH_EVENTS); one request's events are never split. */
  maxGroupEvents: number;
  /** Grouped transactions running at once. */
  maxInFlight: number;
  /** How long a direct publish waits for its confirm before the outbox relay takes over. */
  publishTimeoutMs: number;
  /** How long a confirmed event waits for others before their outbox rows are deleted together (PublishedMarker). */
  markWindowMs: number;
}

const RETRY_AFTER_SECONDS = 5;
const isDeadlock = (err: unknown) => ['40P01', '40001'].includes((err as { parent?: { code?: string } })?.parent?.code ?? '');

const keyOf = (item: { orgId: string; service: string; eventId: string }) => `${item.orgId}\u0000${item.service}\u0000${item.eventId}`;

/**
 * Group commit for webhook events: concurrent requests' events are stored together in one transaction (after a
 * short linger, bounded in size), and each request is answered only once its group has committed — so 202 still
 * means "committed in PostgreSQL" while a burst of requests costs a few commits instead of one each. After the
 * commit the group's new events are published together and their confirms awaited together; anything not
 * confirmed stays in the outbox for the relay.
 */
export class IngestPipeline {
  private queue: Submission[] = [];
  private queuedEvents = 0;
  private inFlight = 0;
  private lingerTimer: NodeJS.Timeout | undefined;
  private lingerDone = false;
  private readonly background = new Set<Promise<unknown>>();
  private readonly marker: PublishedMarker;

  constructor(private readonly options: IngestPipelineOptions) {
    this.marker = new PublishedMarker(options.db, options.markWindowMs);
  }

  submit(items: WebhookEventToStore[]): Promise<IngestResult[]> {
    if (!items.length) return Promise.resolve([]);
    return new Promise<IngestResult[]>((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      this.queuedEvents += items.length;
      if (this.queuedEvents >= this.options.maxGroupEvents) this.lingerDone = true;
      else if (!this.lingerTimer && !this.lingerDone) {
        this.lingerTimer = setTimeout(() => {
          this.lingerTimer = undefined;
          this.lingerDone = true;
          this.pump();
        }, this.options.lingerMs);
      }
      this.pump();
    });
  }

  /** Waits until every queued group is committed and every publish has settled (graceful shutdown). */
  async drain(): Promise<void> {
    while (this.queue.length || this.inFlight || this.background.size) {
      if (this.queue.length) {
        this.lingerDone = true;
        this.pump();
      }
      await Promise.race([...this.background, new Promise((r) => setTimeout(r, 10))]);
    }
  }

  private pump(): void {
    while (this.queue.length && this.inFlight < this.options.maxInFlight && this.lingerDone) {
      const group: Submission[] = [];
      let events = 0;
      for (let next = this.queue[0]; next && (group.length === 0 || events + next.items.length <= this.options.maxGroupEvents); next = this.queue[0]) {
        this.queue.shift();
        group.push(next);
        events += next.items.length;
      }
      this.queuedEvents -= events;
      if (!this.queue.length) {
        this.lingerDone = false;
        clearTimeout(this.lingerTimer);
        this.lingerTimer = undefined;
      }
      this.inFlight += 1;
      void this.commitGroup(group).finally(() => {
        this.inFlight -= 1;
        // Whatever queued up meanwhile has waited a commit already: it goes now.
        if (this.queue.length) this.lingerDone = true;
        this.pump();
      });
    }
  }

  private async commitGroup(group: Submission[]): Promise<void> {
    try {
      const results = await this.commitWithRetry(group);
      group.forEach((submission, i) => submission.resolve(results[i]));
    } catch (err) {
      if (isDatabaseUnavailable(err)) {
        const unavailable = new ServiceUnavailableError('database_unavailable', 'The database is unreachable, retry later', RETRY_AFTER_SECONDS);
        group.forEach((s) => s.reject(unavailable));
      } else if (group.length > 1) {
        // Isolate the request that broke the statement: the others must not fail with it.
        for (const submission of group) await this.commitGroup([submission]);
      } else {
        group[0].reject(err);
      }
    }
  }

  private async commitWithRetry(group: Submission[]): Promise<IngestResult[][]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.commit(group);
      } catch (err) {
        if (!isDeadlock(err) || attempt >= 3) throw err;
      }
    }
  }

  private async commit(group: Submission[]): Promise<IngestResult[][]> {
    const { db, metrics } = this.options;
    const rows = new Map<string, { item: WebhookEventToStore; dups: number }>();
    for (const { items } of group) {
      for (const item of items) {
        const key = keyOf(item);
        const row = rows.get(key);
        if (row) row.dups += 1;
        else rows.set(key, { item, dups: 0 });
      }
    }
    // A stable key order keeps concurrent groups (other replicas) from deadlocking on each other's rows.
    const ordered = [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
    const started = performance.now();
    // A group holds events of many organizations (each resolved by us, never taken from the client), so it
    // commits as one system-scoped statement rather than one forOrg transaction per organization.
    const stored = await storeWebhookEvents(db, ordered);
    metrics.groupSize.observe(ordered.length);
    metrics.commitLatency.observe((performance.now() - started) / 1000);

    const inserted = new Set(stored.filter((r) => r.inserted).map((r) => keyOf({ orgId: r.org_id, service: r.service, eventId: r.event_id })));
    const results = group.map(({ items }) =>
      items.map((item): IngestResult => {
        const key = keyOf(item);
        if (!inserted.has(key)) return 'duplicate';
        inserted.delete(key); // the first occurrence is the one stored; later ones in the group are duplicates
        return 'accepted';
      }),
    );
    this.publish(stored.filter((r) => r.inserted));
    return results;
  }

  /** After the commit, off the request path: publish the new events together, then mark the confirmed ones. */
  private publish(events: OutboxEventRow[]): void {
    const { broker, logger, metrics, publishTimeoutMs } = this.options;
    // While disconnected the channel would only buffer in memory: leave the events to the outbox relay instead.
    if (!events.length || !broker.isConnected()) return;
    const task = (async () => {
      const outcome = await publishIntegrationEvents(broker.channel, broker.names.eventsExchange, events, { timeoutMs: publishTimeoutMs });
      if (outcome.failed.length) {
        metrics.publishFailures.inc(outcome.failed.length);
        logger.warn({ failed: outcome.failed.length, err: outcome.failed[0].error.message }, 'publish not confirmed; left to the outbox relay');
      }
      await this.marker.mark(outcome.confirmed);
      metrics.published.inc({ path: 'direct' }, outcome.confirmed.length);
    })().catch((err) => logger.warn({ err }, 'marking published events failed; the outbox relay will republish them'));
    this.background.add(task);
    void task.finally(() => this.background.delete(task));
  }
}
