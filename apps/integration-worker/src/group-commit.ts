import type { Database, ForOrgOptions, Transaction } from '@saas/db';

/** Applies a group of units in one transaction; returns one result per unit, in order. */
export type GroupApplier<Unit, Result> = (tx: Transaction, units: Unit[]) => Promise<Result[]>;

/** START TRANSACTION and the organization context go with the group's first statement: two round trips less per group. */
const GROUP_TRANSACTION: ForOrgOptions = { beginWithFirstStatement: true };

interface Pending<Unit> {
  unit: Unit;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit per organization. Every sync of one organization appends to that organization's audit hash chain,
 * which serializes its transactions; so instead of queueing one transaction per event behind that lock, the units
 * that arrive while an organization's transaction is running are applied together in its next one (the applier can
 * then use one statement for the whole group where it would need one per unit). Should a group fail, it is rolled
 * back and its units are applied again one transaction each, so one unit's failure never undoes another's work
 * (failures are rare: no savepoint is paid on the common path). A unit's promise settles after its commit: its
 * message is acknowledged only once its effects are durable.
 */
export class GroupCommitter<Unit, Result> {
  private readonly lanes = new Map<string, Pending<Unit>[]>();

  constructor(
    private readonly db: Database,
    private readonly maxGroup: number,
    private readonly apply: GroupApplier<Unit, Result>,
  ) {}

  submit(orgId: string, unit: Unit): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      const lane = this.lanes.get(orgId);
      const pending: Pending<Unit> = { unit, resolve: resolve as (value: unknown) => void, reject };
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
  private async drain(orgId: string, lane: Pending<Unit>[]): Promise<void> {
    while (lane.length) {
      const group = lane.splice(0, this.maxGroup);
      let values: Result[];
      try {
        values = await this.db.forOrg(orgId, (tx) => this.apply(tx, group.map((pending) => pending.unit)), GROUP_TRANSACTION);
      } catch (error) {
        if (group.length === 1) group[0]?.reject(error);
        else await this.oneByOne(orgId, group);
        continue;
      }
      group.forEach((pending, i) => pending.resolve(values[i]));
    }
    this.lanes.delete(orgId);
  }

  private async oneByOne(orgId: string, group: Pending<Unit>[]): Promise<void> {
    for (const pending of group) {
      try {
        const [value] = await this.db.forOrg(orgId, (tx) => this.apply(tx, [pending.unit]), GROUP_TRANSACTION);
        pending.resolve(value);
      } catch (error) {
        pending.reject(error);
      }
    }
  }
}
