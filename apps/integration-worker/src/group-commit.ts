import type { Database, Transaction } from '@saas/db';

interface Pending {
  work: (tx: Transaction) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit per organization. Every sync of one organization appends to that organization's audit hash chain,
 * which serializes its transactions; so instead of queueing one transaction per event behind that lock, the units
 * of work that arrive while an organization's transaction is running are applied together in its next one. Should
 * any unit of a group fail, the group is rolled back and its units run again one transaction each, so one unit's
 * failure never undoes another's work (failures are rare: no savepoint is paid on the common path). A unit's
 * promise settles after its commit: its message is acknowledged only once its effects are durable.
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
      let values: unknown[] | undefined;
      try {
        values = await this.db.forOrg(orgId, async (tx) => {
          const results: unknown[] = [];
          for (const unit of group) results.push(await unit.work(tx));
          return results;
        });
      } catch (error) {
        if (group.length === 1) group[0]?.reject(error);
        else await this.oneByOne(orgId, group);
        continue;
      }
      group.forEach((unit, i) => unit.resolve(values?.[i]));
    }
    this.lanes.delete(orgId);
  }

  private async oneByOne(orgId: string, group: Pending[]): Promise<void> {
    for (const unit of group) {
      try {
        unit.resolve(await this.db.forOrg(orgId, (tx) => unit.work(tx)));
      } catch (error) {
        unit.reject(error);
      }
    }
  }
}
