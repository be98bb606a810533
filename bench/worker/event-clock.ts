import { QueryTypes } from 'sequelize';
import type { Database } from '@saas/db';
import { percentile } from '../lib';

/** Reads of the bench database's webhook events: when they were received and processed (the worker benches' clock). */
export class EventClock {
  constructor(private readonly db: Database) {}

  private sql<T extends object>(query: string, bind: unknown[] = []): Promise<T[]> {
    return this.db.asSystem('bench measurement', (transaction) => this.db.sequelize.query<T>(query, { bind, type: QueryTypes.SELECT, transaction }));
  }

  /** The database's clock, to mark where a phase's events start (received_at is the database's time too). */
  async now(): Promise<Date> {
    return (await this.sql<{ now: Date }>('SELECT now() AS now'))[0]!.now;
  }

  async unfinished(): Promise<number> {
    return (await this.sql<{ n: number }>("SELECT count(*)::int AS n FROM webhook_events WHERE status NOT IN ('processed', 'skipped', 'failed')"))[0]!.n;
  }

  /** Waits until every event is finished. */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.unfinished()) > 0) {
      if (Date.now() > deadline) throw new Error(`events still unfinished after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** received_at → processed_at of the events received since `since`, in ms, with p50/p90/p99. */
  async receiptToProcessed(since: Date): Promise<{ count: number; p50: number; p90: number; p99: number }> {
    const rows = await this.sql<{ total: number }>(
      `SELECT extract(epoch FROM processed_at - received_at) * 1000 AS total FROM webhook_events WHERE received_at >= $1 AND status = 'processed'`,
      [since],
    );
    const latencies = rows.map((r) => Number(r.total));
    return { count: latencies.length, p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99) };
  }

  /** How many events received since `since` are processed, and the first and last processed_at. */
  async processedSince(since: Date): Promise<{ first: Date; last: Date; processed: number }> {
    return (
      await this.sql<{ first: Date; last: Date; processed: number }>(
        "SELECT min(processed_at) AS first, max(processed_at) AS last, count(*)::int AS processed FROM webhook_events WHERE received_at >= $1 AND status = 'processed'",
        [since],
      )
    )[0]!;
  }

  async receivedSince(since: Date): Promise<number> {
    return (await this.sql<{ n: number }>('SELECT count(*)::int AS n FROM webhook_events WHERE received_at >= $1', [since]))[0]!.n;
  }
}
