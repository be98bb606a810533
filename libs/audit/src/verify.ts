import { Op } from 'sequelize';
import { AuditLog, selectRows, type Transaction } from '@saas/db';
import { entryHash, GENESIS_HASH } from './chain';
import { auditCheckpointKeys, type AuditCheckpoint } from './checkpoint';

export interface ChainVerification {
  valid: boolean;
  /** Entries read, up to and including the first invalid one. */
  entries_checked: number;
  /** Entries before the chain's first checkpoint, appended before checkpoints existed: hash-checked only. Absent when none. */
  legacy_entries?: number;
  /**
   * The first entry that fails its hash, its link or its checkpoint. Absent when valid, or when the entries end before
   * the checkpoints do: the newest entries were removed, or a checkpoint row was added.
   */
  first_invalid_id?: string;
}

const PAGE = 1000;

/**
 * Rows of one chain in `seq` order, read a page at a time. Reading at the end queries again rather than remembering
 * the end, so a row committed since the last read is found (see verifyAuditChain). No lower bound on the first read:
 * `seq` can be written explicitly (OVERRIDING SYSTEM VALUE), and a forged row is verified wherever it sorts.
 */
class ChainRows<Row extends { seq: string }> {
  private page: Row[] = [];
  private index = 0;
  private lastSeq: string | undefined;

  constructor(private readonly readAfter: (seq: string | undefined) => Promise<Row[]>) {}

  async next(): Promise<Row | undefined> {
    if (this.index === this.page.length) {
      this.page = await this.readAfter(this.lastSeq);
      this.index = 0;
    }
    const row = this.page[this.index];
    if (row) {
      this.index += 1;
      this.lastSeq = row.seq;
    }
    return row;
  }
}

type CheckpointRow = AuditCheckpoint & { seq: string };

const chainFilter = (orgId: string | null) => (orgId === null ? 'org_id IS NULL' : 'org_id = $1');

function checkpointsOf(tx: Transaction, orgId: string | null): ChainRows<CheckpointRow> {
  return new ChainRows((after) => {
    const bind = orgId === null ? [] : [orgId];
    const afterSeq = after === undefined ? '' : `AND seq > $${bind.push(after)}`;
    return selectRows<CheckpointRow>(
      tx,
      `SELECT seq, org_id, first_prev_hash, last_hash, entry_count, key_id, mac FROM audit_checkpoints
        WHERE ${chainFilter(orgId)} ${afterSeq} ORDER BY seq LIMIT ${PAGE}`,
      bind,
    );
  });
}

function entriesOf(tx: Transaction, orgId: string | null): ChainRows<AuditLog> {
  return new ChainRows((after) =>
    AuditLog.findAll({
      where: { org_id: orgId, ...(after === undefined ? {} : { seq: { [Op.gt]: after } }) },
      order: [['seq', 'ASC']],
      limit: PAGE,
      transaction: tx,
    }),
  );
}

/**
 * Recomputes one organization's chain (org_id NULL: the platform's) in append order, and requires every entry to be
 * covered by exactly one keyed checkpoint, each checkpoint's run starting where the previous one ended. An edited
 * entry fails its own hash; a removed one breaks the next entry's link; a row INSERTed with the database credentials
 * alone is covered by no checkpoint whose MAC verifies, even when a later append chained onto it (that run then
 * does not start where the previous one ended). The leading entries before the first checkpoint are legacy.
 *
 * Entries and their checkpoint commit together, but each read of a READ COMMITTED transaction sees what was
 * committed when it started: an entry without a checkpoint is judged only after a checkpoint read made after the
 * entry's read, and a checkpoint without entries after an entry read made after the checkpoint's.
 */
export async function verifyAuditChain(tx: Transaction, orgId: string | null): Promise<ChainVerification> {
  const keys = auditCheckpointKeys();
  const entries = entriesOf(tx, orgId);
  const checkpoints = checkpointsOf(tx, orgId);
  let prevHash = GENESIS_HASH;
  let checked = 0;
  let legacy = 0;
  const verdict = (valid: boolean, invalid?: AuditLog): ChainVerification => ({
    valid,
    entries_checked: checked,
    ...(legacy ? { legacy_entries: legacy } : {}),
    ...(invalid ? { first_invalid_id: invalid.id } : {}),
  });
  /** Whether the entry links to the chain so far and carries its own hash; if so, it is the chain's new head. */
  const extendsChain = (entry: AuditLog) => {
    checked += 1;
    if (entry.prev_hash !== prevHash || entry.hash !== entryHash(prevHash, entry)) return false;
    prevHash = entry.hash;
    return true;
  };

  let checkpoint = await checkpoints.next();
  while (!checkpoint || checkpoint.first_prev_hash !== prevHash) {
    const entry = await entries.next();
    // without checkpoints, the whole chain is legacy; a checkpoint that starts nowhere in it is not
    if (!entry) return verdict(!checkpoint);
    if (!extendsChain(entry)) return verdict(false, entry);
    legacy += 1;
  }
  for (;;) {
    const first = await entries.next();
    // the chain ends here: a checkpoint left over vouches for entries that are gone (or it was added)
    if (!first) return verdict(!checkpoint);
    // read again: this entry may have committed, with its checkpoint, after the last checkpoint read
    checkpoint ??= await checkpoints.next();
    if (!checkpoint || checkpoint.first_prev_hash !== prevHash || !keys.verifies(checkpoint)) {
      checked += 1;
      return verdict(false, first);
    }
    let entry = first;
    for (let inRun = 1; ; inRun += 1) {
      if (!extendsChain(entry)) return verdict(false, entry);
      if (inRun === checkpoint.entry_count) break;
      const next = await entries.next();
      // the checkpoint vouches for entries that are not there
      if (!next) return verdict(false);
      entry = next;
    }
    // the run's entries are not the ones its checkpoint vouched for: the last one read is where they part
    if (prevHash !== checkpoint.last_hash) return verdict(false, entry);
    checkpoint = await checkpoints.next();
  }
}

/** Verifies every chain the transaction can see (a system transaction: every organization's and the platform's). */
export async function verifyAllAuditChains(tx: Transaction): Promise<ChainVerification> {
  // a chain whose entries are all gone still has its checkpoints
  const chains = await selectRows<{ org_id: string | null }>(tx, 'SELECT org_id FROM audit_logs UNION SELECT org_id FROM audit_checkpoints', []);
  let checked = 0;
  let legacy = 0;
  const verdict = (valid: boolean, firstInvalidId?: string): ChainVerification => ({
    valid,
    entries_checked: checked,
    ...(legacy ? { legacy_entries: legacy } : {}),
    ...(firstInvalidId ? { first_invalid_id: firstInvalidId } : {}),
  });
  for (const { org_id } of chains) {
    const result = await verifyAuditChain(tx, org_id);
    checked += result.entries_checked;
    legacy += result.legacy_entries ?? 0;
    if (!result.valid) return verdict(false, result.first_invalid_id);
  }
  return verdict(true);
}
