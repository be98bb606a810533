import { randomUUID } from 'node:crypto';
import { runBeforeNextStatement, selectEach, sql, sqlList, type SqlStatement, type SqlValue, type Transaction } from '@saas/db';
import { entryHash, GENESIS_HASH, type HashedFields } from './chain';
import { auditCheckpointKeys, type AuditCheckpoint, type CheckpointedRun } from './checkpoint';

export interface AuditEntryInput {
  orgId: string | null;
  actorType: 'user' | 'system';
  actorId?: string | null;
  action: string;
  targetType?: string | null;
  targetId?: string | null;
  requestId?: string | null;
  ip?: string | null;
  metadata?: Record<string, unknown>;
}

/** An entry as stored: its fields, its links and its place in the log. */
export interface AuditEntry extends HashedFields {
  seq: string;
  metadata: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

/** An entry appended in a transaction: its place in the log (`seq`) is given when its row is written, at the latest with the COMMIT. */
export type AppendedEntry = Omit<AuditEntry, 'seq'>;

const chainLockKey = (orgId: string | null) => `audit-chain:${orgId ?? 'platform'}`;

/**
 * Takes the chain's lock, then reads its head: two statements in one round trip. The read must take its snapshot after
 * the lock is granted, so it sees the entry of the transaction that held the lock; in READ COMMITTED each statement
 * of a multi-statement string takes its own when it starts (audit.spec checks it), whereas one statement doing both
 * would read from a snapshot taken before the wait.
 */
const lockChainThenReadHead = (orgId: string | null): SqlStatement[] => [
  sql`SELECT pg_advisory_xact_lock(hashtextextended(${chainLockKey(orgId)}, 0))`,
  sql`SELECT hash FROM audit_logs WHERE org_id ${orgId === null ? sql`IS NULL` : sql`= ${orgId}`} ORDER BY seq DESC LIMIT 1`,
];

/** `(…), (…)`: the VALUES of a multi-row INSERT, whose rows take their `seq` in this order. */
const valuesOf = (rows: SqlValue[][]): SqlStatement => rows.map((row) => sql`(${sqlList(row)})`).reduce((list, row) => sql`${list}, ${row}`);

function insertEntries(rows: AppendedEntry[]): SqlStatement {
  const values = valuesOf(
    rows.map((r) => [r.id, r.org_id, r.actor_type, r.actor_id, r.action, r.target_type, r.target_id, r.request_id, r.ip, JSON.stringify(r.metadata), r.created_at.toISOString(), r.prev_hash, r.hash]),
  );
  return sql`INSERT INTO audit_logs (id, org_id, actor_type, actor_id, action, target_type, target_id, request_id, ip, metadata, created_at, prev_hash, hash)
               VALUES ${values}`;
}

/** One checkpoint per chain the rows extend: a chain's rows of one append are consecutive in it, so they are one run. */
function checkpointsOf(rows: AppendedEntry[]): AuditCheckpoint[] {
  const runs = new Map<string | null, CheckpointedRun>();
  for (const row of rows) {
    const run = runs.get(row.org_id);
    if (run) {
      run.last_hash = row.hash;
      run.entry_count += 1;
    } else {
      runs.set(row.org_id, { org_id: row.org_id, first_prev_hash: row.prev_hash, last_hash: row.hash, entry_count: 1 });
    }
  }
  const keys = auditCheckpointKeys();
  return [...runs.values()].map((run) => keys.sign(run));
}

function insertCheckpoints(checkpoints: AuditCheckpoint[]): SqlStatement {
  const values = valuesOf(checkpoints.map((c) => [c.org_id, c.first_prev_hash, c.last_hash, c.entry_count, c.key_id, c.mac]));
  return sql`INSERT INTO audit_checkpoints (org_id, first_prev_hash, last_hash, entry_count, key_id, mac) VALUES ${values}`;
}

/**
 * The chain heads a transaction already holds the lock for, with their latest hash. The advisory lock is held until
 * commit, so no one else appends to that chain meanwhile: a transaction applying many events (the worker's group
 * commit) takes the lock and reads the head once, then chains from memory (3 statements per entry → 1). Appends
 * inside savepoints (nested transactions) would bypass this cache: none exist, keep it so.
 */
const heldHeads = new WeakMap<Transaction, Map<string, string>>();

/**
 * Appends an entry to its organization's hash chain inside the caller's transaction, so the entry commits or rolls
 * back with the change it records. Appends to one chain are serialized by a transaction-scoped advisory lock (held
 * until commit): call this as the last write of the transaction to keep that window short.
 * The transaction must see `orgId`'s rows (forOrg(orgId) or asSystem; org_id NULL needs asSystem).
 */
export async function appendAudit(tx: Transaction, entry: AuditEntryInput): Promise<AppendedEntry> {
  const [appended] = await appendAuditEntries(tx, [entry]);
  return appended as AppendedEntry;
}

export interface AppendOptions {
  /**
   * A write of the caller's (returning no rows) sent in the same round trip as the append's first statement (the
   * chain's lock), just before it: the caller's last change costs no round trip of its own. Without entries it goes
   * like them, with the transaction's next statement or just before its COMMIT.
   */
  withWrite?: SqlStatement;
}

/**
 * Appends entries in the given order, as appendAudit would one by one, with one INSERT: their links are computed in
 * memory from the chain heads (each chain locked and read once per transaction) and the rows of one multi-row
 * INSERT take their `seq` in VALUES order, which is the order verify follows. Each chain's entries of the call are
 * one run, vouched for by one keyed checkpoint (checkpoint.ts) inserted right after them: a row INSERTed with the
 * database credentials alone is covered by none. Both INSERTs are sent as one text with the transaction's next
 * statement (runBeforeNextStatement), or just before its COMMIT when the append is its last write; a failing INSERT
 * (e.g. an entry of an organization the transaction cannot see) fails that statement, and the whole transaction
 * rolls back as before.
 */
export async function appendAuditEntries(tx: Transaction, entries: AuditEntryInput[], options: AppendOptions = {}): Promise<AppendedEntry[]> {
  const { withWrite } = options;
  // the lock below goes as a simple query (no bind parameters), which carries it; without entries, so does what comes next
  if (withWrite) runBeforeNextStatement(tx, withWrite);
  if (!entries.length) return [];
  let heads = heldHeads.get(tx);
  if (!heads) heldHeads.set(tx, (heads = new Map()));
  const rows: AppendedEntry[] = [];
  for (const entry of entries) {
    const key = chainLockKey(entry.orgId);
    let prevHash = heads.get(key);
    if (prevHash === undefined) {
      const [, [head]] = await selectEach<[unknown[], { hash: string }[]]>(tx, lockChainThenReadHead(entry.orgId));
      prevHash = head?.hash ?? GENESIS_HASH;
    }
    const fields = {
      id: randomUUID(),
      org_id: entry.orgId,
      actor_type: entry.actorType,
      actor_id: entry.actorId ?? null,
      action: entry.action,
      target_type: entry.targetType ?? null,
      target_id: entry.targetId ?? null,
      request_id: entry.requestId ?? null,
      ip: entry.ip ?? null,
      metadata: entry.metadata ?? {},
      created_at: new Date(),
    };
    const hash = entryHash(prevHash, fields);
    rows.push({ ...fields, prev_hash: prevHash, hash });
    // the rows are written before anything else of this transaction runs, so the next append chains from them
    heads.set(key, hash);
  }
  // plain rows: no model instances to build (no caller needs one)
  runBeforeNextStatement(tx, sql`${insertEntries(rows)}; ${insertCheckpoints(checkpointsOf(rows))}`);
  return rows;
}
