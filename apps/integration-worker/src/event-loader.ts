import { loadEventsForOrg, type Database, type EventRow } from '@saas/db';

interface Waiter {
  resolve: (event: EventRow | null) => void;
  reject: (error: unknown) => void;
}

/**
 * Reads the webhook_events rows of incoming deliveries in batches: the ids of one organization that arrive while
 * its previous read is running are fetched together by the next one (one round trip instead of one transaction each).
 */
export class EventLoader {
  private readonly lanes = new Map<string, Map<string, Waiter[]>>();

  constructor(
    private readonly db: Database,
    private readonly maxBatch: number,
  ) {}

  load(orgId: string, id: string): Promise<EventRow | null> {
    return new Promise((resolve, reject) => {
      const lane = this.lanes.get(orgId);
      const waiter = { resolve, reject };
      if (lane) {
        lane.set(id, [...(lane.get(id) ?? []), waiter]);
        return;
      }
      const fresh = new Map([[id, [waiter]]]);
      this.lanes.set(orgId, fresh);
      void this.drain(orgId, fresh);
    });
  }

  private async drain(orgId: string, lane: Map<string, Waiter[]>): Promise<void> {
    while (lane.size) {
      const batch = [...lane.entries()].slice(0, this.maxBatch);
      for (const [id] of batch) lane.delete(id);
      try {
        const byId = await loadEventsForOrg(this.db, orgId, batch.map(([id]) => id));
        for (const [id, waiters] of batch) for (const w of waiters) w.resolve(byId.get(id) ?? null);
      } catch (error) {
        for (const [, waiters] of batch) for (const w of waiters) w.reject(error);
      }
    }
    this.lanes.delete(orgId);
  }
}
