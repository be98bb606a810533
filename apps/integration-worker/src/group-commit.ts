import type { Database, Transaction } from '@saas/db';

interface Pending {
  work: (tx: Transaction) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Group commit per organization. Every sync of one organization appends to that organization's audit hash chain,
 * which serializes its transactions; so instead of queueing one transaction per event behind that lock, the units
 * of work that arrive while an organization's transaction is running are applied together in its next one, each
 * in its own savepoint (one unit failing rolls back only itself). A unit's promise settles after the commit, so
 * its message is acknowledged only once its effects are durable; a failed commit rejects every unit of the group.
 */
export class GroupCommitter {
  private readonly lanes = new Map<string, Pending[]>();

  constructor(
    private readonly db: Database,
    private readonly maxGroup: number,
  ) {}

  submit<T>(orgId: string, work: (tx: Transaction) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const lane = this.lanes.get(orgId);
      const pending: Pending = { work, resolve: resolve as (value: unknown) => void, reject };
      if (lane) {
        lane.push(pending);
        return;
      }
      const fresh = [pending];
      this.lanes.set(orgId, fresh);
      void this.drain(orgId, fresh);
    });
  }

  /** Commits the lane's groups one after another until it is empty; the lane exists exactly while this runs. */
  private async drain(orgId: string, lane: Pending[]): Promise<void> {
    while (lane.length) {
      const group = lane.splice(0, this.maxGroup);
      const outcomes: Outcome[] = [];
      try {
        await this.db.forOrg(orgId, async (tx) => {
          for (const unit of group) {
            try {
              outcomes.push({ ok: true, value: await this.db.sequelize.transaction({ transaction: tx }, (savepoint) => unit.work(savepoint)) });
            } catch (error) {
              outcomes.push({ ok: false, error });
            }
          }
        });
      } catch (error) {
        for (const unit of group) unit.reject(error);
        continue;
      }
      group.forEach((unit, i) => {
        const outcome = outcomes[i];
        if (outcome?.ok) unit.resolve(outcome.value);
        else unit.reject(outcome ? outcome.error : new Error('unit of work not run'));
      });
    }
    this.lanes.delete(orgId);
  }
}
