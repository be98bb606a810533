import type { Transaction, WebhookEvent } from '@saas/db';

/** What a syncer reads of the event it applies. */
export type SyncedEvent = Pick<WebhookEvent, 'org_id' | 'event_type' | 'event_timestamp'>;

/** One audit entry of an applied event (the processor adds the actor and the event's identity). */
export interface SyncAudit {
  action: string;
  targetType: string;
  targetId: string;
  metadata?: Record<string, unknown>;
}

/** What applying one event did, for the event's status, its audit entries and the work after commit. */
export type SyncResult =
  | {
      outcome: 'processed';
      /** In the order they happened: the sync's own entry, or more when the event did more (a user's link to the directory). */
      audits: SyncAudit[];
      /** Users whose tokens were revoked: their cached token state is invalidated once the transaction commits. */
      revokedUserIds?: string[];
    }
  | { outcome: 'skipped'; reason: string };

export type EventData = Record<string, unknown>;

export type Syncer = (tx: Transaction, event: SyncedEvent, data: EventData) => Promise<SyncResult>;

export interface SyncItem {
  event: SyncedEvent;
  data: EventData;
}

/**
 * Applies a group's events of one service and one organization, in order (an event sees the effects of the earlier
 * ones), returning one result per event. Any throw fails the whole group (GroupCommitter then applies its events
 * one by one), so an error thrown for one event is that event's error when it is applied alone.
 */
export type BatchSyncer = (tx: Transaction, items: SyncItem[]) => Promise<SyncResult[]>;

/** A per-event syncer applied to a batch one event after another. */
export function oneByOne(syncer: Syncer): BatchSyncer {
  return async (tx, items) => {
    const results: SyncResult[] = [];
    for (const { event, data } of items) results.push(await syncer(tx, event, data));
    return results;
  };
}

export const stale = (reason = 'an event newer than this one was already applied'): SyncResult => ({ outcome: 'skipped', reason });

export function isOlder(eventAt: Date, lastAppliedAt: Date | null | undefined): boolean {
  return !!lastAppliedAt && eventAt.getTime() < lastAppliedAt.getTime();
}

export function text(data: EventData, key: string): string | undefined {
  const value = data[key];
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : String(value);
}
