import { QueryTypes, Sequelize } from 'sequelize';
import { randomBytes, randomUUID } from 'node:crypto';
import { DEV_SECRETS } from '@saas/config';
import { AuditLog, Database, execute, Organization, selectRows, sql, type Transaction } from '@saas/db';
import {
  appendAudit,
  appendAuditEntries,
  AuditCheckpointKeys,
  configureAuditCheckpoints,
  entryHash,
  GENESIS_HASH,
  verifyAllAuditChains,
  verifyAuditChain,
  type AppendedEntry,
  type AuditCheckpoint,
} from './index';

/** The statements sent, one per round trip, while `countTrips` records them. */
let trips: string[] | null = null;
const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 6, logging: (line) => trips?.push(line.replace(/^Executing \([^)]*\): /, '')) });

async function countTrips<T>(work: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  trips = [];
  try {
    const result = await work();
    return { result, statements: trips };
  } finally {
    trips = null;
  }
}

// The tables' owner: the only role that can edit the append-only log, i.e. the tamperer.
const owner = new Sequelize(process.env['DATABASE_ADMIN_URL']!, { logging: false });
const tampered: string[] = [];
afterAll(async () => {
  await db.close();
  await owner.close();
});

async function createOrg(database: Database) {
  const slug = `audit-${randomBytes(4).toString('hex')}`;
  return database.asSystem('test fixture', (transaction) => Organization.create({ name: slug, slug }, { transaction }));
}

async function tamper(sql: string, id: string) {
  tampered.push(id);
  await owner.query(sql, { bind: [id] });
}

async function appendMany(orgId: string, n: number) {
  const entries: AppendedEntry[] = [];
  for (let i = 0; i < n; i += 1) {
    entries.push(
      await db.forOrg(orgId, (tx) =>
        appendAudit(tx, { orgId, actorType: 'system', action: 'test.step', targetType: 'thing', targetId: String(i), metadata: { i, nested: { b: 1, a: [1, 2] } } }),
      ),
    );
  }
  return entries;
}

/** The hashed fields of an entry written by hand, as a tamperer would. */
const entryFields = (orgId: string, action: string) => ({
  id: randomUUID(),
  org_id: orgId,
  actor_type: 'system',
  actor_id: null,
  action,
  target_type: null,
  target_id: null,
  request_id: null,
  ip: null,
  created_at: new Date(),
});

/** An organization's name as stored (what a write of the test changed, or did not). */
const orgName = async (orgId: string) => (await db.asSystem('test', (transaction) => Organization.findByPk(orgId, { transaction })))!.name;

const verify = (orgId: string) => db.forOrg(orgId, (tx) => verifyAuditChain(tx, orgId));

/** Until a session of this test waits for an advisory lock (the audit chain's). */
async function waitForAdvisoryLockWaiter() {
  for (let i = 0; i < 200; i += 1) {
    const [waiting] = await db.sequelize.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
      { type: QueryTypes.SELECT },
    );
    if (waiting!.n > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('no session waited for the chain lock');
}

describe('appendAudit', () => {
  it('when one transaction appends several entries after earlier transactions did, then the chain stays valid and linked', async () => {
    const org = await createOrg(db);
    await appendMany(org.id, 2);
    const inOne = await db.forOrg(org.id, async (tx) => {
      const written: AppendedEntry[] = [];
      for (let i = 0; i < 5; i += 1) written.push(await appendAudit(tx, { orgId: org.id, actorType: 'system', action: 'test.grouped', metadata: { i } }));
      return written;
    });
    inOne.slice(1).forEach((entry, i) => expect(entry.prev_hash).toBe(inOne[i]!.hash));
    await appendMany(org.id, 1);
    expect(await verify(org.id)).toMatchObject({ valid: true, entries_checked: 8 });
  });

  it('when a batch of entries is appended with one insert between single appends, then they link in the given order and the chain verifies', async () => {
    const org = await createOrg(db);
    await appendMany(org.id, 1);
    const batch = await db.forOrg(org.id, async (tx) => {
      await appendAudit(tx, { orgId: org.id, actorType: 'system', action: 'test.before_batch' });
      return appendAuditEntries(
        tx,
        Array.from({ length: 6 }, (_, i) => ({ orgId: org.id, actorType: 'system' as const, action: `test.batch.${i}`, metadata: { i, nested: { z: i, a: [i] } } })),
      );
    });
    await appendMany(org.id, 1);
    batch.slice(1).forEach((entry, i) => expect(entry.prev_hash).toBe(batch[i]!.hash));
    const stored = await db.forOrg(org.id, (tx) => AuditLog.findAll({ where: { org_id: org.id }, order: [['seq', 'ASC']], transaction: tx }));
    expect(stored.map((entry) => entry.action)).toEqual(['test.step', 'test.before_batch', ...batch.map((entry) => entry.action), 'test.step']);
    expect(await verify(org.id)).toEqual({ valid: true, entries_checked: 9 });
  });

  it('when entries are appended, then each links to the previous one and the first to the genesis hash', async () => {
    const org = await createOrg(db);
    const [first, second] = await appendMany(org.id, 2);
    expect(first!.prev_hash).toBe(GENESIS_HASH);
    expect(second!.prev_hash).toBe(first!.hash);
    expect(await verify(org.id)).toEqual({ valid: true, entries_checked: 2 });
  });

  it('when many transactions append to one organization at once, then the chain stays one valid line', async () => {
    const org = await createOrg(db);
    await Promise.all(
      Array.from({ length: 12 }, (_, i) => db.forOrg(org.id, (tx) => appendAudit(tx, { orgId: org.id, actorType: 'system', action: `test.parallel.${i}` }))),
    );
    expect(await verify(org.id)).toEqual({ valid: true, entries_checked: 12 });
  });

  it('when a transaction appends while another holds the chain and commits a new head, then it waits and links to that head', async () => {
    const org = await createOrg(db);
    await appendMany(org.id, 1);
    let release!: () => void;
    const latch = new Promise<void>((resolve) => (release = resolve));
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const first = db.forOrg(org.id, async (tx) => {
      const entry = await appendAudit(tx, { orgId: org.id, actorType: 'system', action: 'test.holder' });
      holding();
      await latch;
      return entry;
    });
    await held;
    // the lock and the head read go in one round trip: the read must not see the head as it was before the lock
    const second = db.forOrg(org.id, (tx) => appendAudit(tx, { orgId: org.id, actorType: 'system', action: 'test.waiter' }));
    await waitForAdvisoryLockWaiter();
    release();
    const [holder, waiter] = await Promise.all([first, second]);
    expect(waiter.prev_hash).toBe(holder.hash);
    expect(await verify(org.id)).toEqual({ valid: true, entries_checked: 3 });
  });

  it('when a batch is appended to a chain, then the lock and the head read take one round trip and the inserts (entries, checkpoint) one, before the COMMIT', async () => {
    const org = await createOrg(db);
    await appendMany(org.id, 1);
    const { statements } = await countTrips(() =>
      db.forOrg(org.id, (tx) => appendAuditEntries(tx, Array.from({ length: 3 }, (_, i) => ({ orgId: org.id, actorType: 'system' as const, action: `test.trips.${i}` })))),
    );
    const work = statements.filter((s) => !/^START TRANSACTION|set_config/.test(s));
    expect(work).toHaveLength(3);
    expect(work[0]).toMatch(/pg_advisory_xact_lock.*; SELECT hash FROM audit_logs/s);
    expect(work[1]).toMatch(/^INSERT INTO audit_logs .*; INSERT INTO audit_checkpoints /s);
    expect(work[2]).toMatch(/^COMMIT;?$/);
    expect(await verify(org.id)).toEqual({ valid: true, entries_checked: 4 });
  });

  it('when the transaction reads after appending, then the entries were written before the read', async () => {
    const org = await createOrg(db);
    const { result, statements } = await countTrips(() =>
      db.forOrg(org.id, async (tx) => {
        await appendAudit(tx, { orgId: org.id, actorType: 'system', action: 'test.read-after' });
        return AuditLog.count({ where: { org_id: org.id }, transaction: tx });
      }),
    );
    expect(result).toBe(1);
    expect(statements.findIndex((s) => s.startsWith('INSERT INTO audit_logs'))).toBeLessThan(statements.findIndex((s) => s.includes('count(')));
    expect(statements.at(-1)).toMatch(/^COMMIT/);
  });

  it('when a caller’s write goes with the append, then it shares the chain lock’s round trip (or goes alone without entries) and is applied', async () => {
    const org = await createOrg(db);
    const rename = (name: string) => sql`UPDATE organizations SET name = ${name} WHERE id = ${org.id}`;
    const { statements } = await countTrips(() =>
      db.forOrg(org.id, (tx) => appendAuditEntries(tx, [{ orgId: org.id, actorType: 'system', action: 'test.with-write' }], { withWrite: rename('renamed with entry') }), {
        beginWithFirstStatement: true,
      }),
    );
    // START TRANSACTION + the context + the write + the lock + the head read; the INSERTs (entries, checkpoint); COMMIT
    expect(statements).toHaveLength(3);
    expect(statements[0]).toMatch(/^START TRANSACTION; SET LOCAL app\.org_id .*; UPDATE organizations SET name = 'renamed with entry' .*; SELECT pg_advisory_xact_lock.*; SELECT hash FROM audit_logs/s);
    expect(statements[1]).toMatch(/^INSERT INTO audit_logs .*; INSERT INTO audit_checkpoints /s);
    expect(statements[2]).toMatch(/^COMMIT;?$/);
    expect(await orgName(org.id)).toBe('renamed with entry');
    await db.forOrg(org.id, (tx) => appendAuditEntries(tx, [], { withWrite: rename('renamed alone') }));
    expect(await orgName(org.id)).toBe('renamed alone');
    expect(await verify(org.id)).toEqual({ valid: true, entries_checked: 1 });
  });

  it('when the append fails after the caller’s write was sent with it, then both roll back', async () => {
    const org = await createOrg(db);
    const before = await orgName(org.id);
    // another organization's entry is refused by row-level security inside this organization's transaction
    const other = await createOrg(db);
    await expect(
      db.forOrg(org.id, (tx) =>
        appendAuditEntries(tx, [{ orgId: other.id, actorType: 'system', action: 'test.refused' }], { withWrite: sql`UPDATE organizations SET name = 'never' WHERE id = ${org.id}` }),
      ),
    ).rejects.toThrow();
    expect(await orgName(org.id)).toBe(before);
  });

  it('when values carry quotes, backslashes and nested metadata, then they are stored as given and the chain verifies', async () => {
    const org = await createOrg(db);
    const hostile = `x' OR '1'='1'; SELECT 'E\\' --`;
    const [entry] = await db.forOrg(org.id, (tx) =>
      appendAuditEntries(tx, [{ orgId: org.id, actorType: 'user', actorId: hostile, action: 'test.hostile', targetId: hostile, ip: '::1', metadata: { hostile, nested: { a: [hostile, 1, null] } } }]),
    );
    const stored = await db.forOrg(org.id, (tx) => AuditLog.findOne({ where: { id: entry!.id }, transaction: tx }));
    expect(stored).toMatchObject({ actor_id: hostile, target_id: hostile, metadata: { hostile, nested: { a: [hostile, 1, null] } }, hash: entry!.hash });
    expect(stored!.created_at.getTime()).toBe(entry!.created_at.getTime());
    expect(await verify(org.id)).toEqual({ valid: true, entries_checked: 1 });
  });

  it('when the transaction that appended rolls back, then the entry is gone with the change', async () => {
    const org = await createOrg(db);
    await expect(
      db.forOrg(org.id, async (tx) => {
        await appendAudit(tx, { orgId: org.id, actorType: 'system', action: 'test.rolled_back' });
        throw new Error('change failed');
      }),
    ).rejects.toThrow('change failed');
    expect(await db.forOrg(org.id, (tx) => AuditLog.count({ where: { org_id: org.id }, transaction: tx }))).toBe(0);
  });

  it('when platform entries (no organization) are appended in a system transaction, then they form their own chain', async () => {
    await db.asSystem('test', (tx) => appendAudit(tx, { orgId: null, actorType: 'system', action: 'test.platform' }));
    const result = await db.asSystem('test', (tx) => verifyAuditChain(tx, null));
    expect(result.valid).toBe(true);
    expect(result.entries_checked).toBeGreaterThanOrEqual(1);
  });
});

describe('verifyAuditChain', () => {
  it('when the owner edits an entry, then verify reports that entry as the first invalid one', async () => {
    const org = await createOrg(db);
    const entries = await appendMany(org.id, 4);
    await tamper(`UPDATE audit_logs SET metadata = '{"i": 99}' WHERE id = $1`, entries[1]!.id);
    expect(await verify(org.id)).toEqual({ valid: false, entries_checked: 2, first_invalid_id: entries[1]!.id });
  });

  it('when the owner deletes an entry, then verify reports the entry that followed it', async () => {
    const org = await createOrg(db);
    const entries = await appendMany(org.id, 4);
    await tamper('DELETE FROM audit_logs WHERE id = $1', entries[2]!.id);
    tampered.push(entries[3]!.id);
    expect(await verify(org.id)).toEqual({ valid: false, entries_checked: 3, first_invalid_id: entries[3]!.id });
  });

  it('when the owner rewrites an entry and recomputes its own hash, then the next link breaks', async () => {
    const org = await createOrg(db);
    const entries = await appendMany(org.id, 3);
    await tamper(`UPDATE audit_logs SET hash = repeat('f', 64) WHERE id = $1`, entries[0]!.id);
    const result = await verify(org.id);
    expect(result.valid).toBe(false);
    expect(result.first_invalid_id).toBe(entries[0]!.id);
  });

  it('when one organization is tampered with, then verifying all chains finds it and the others stay valid', async () => {
    const [good, bad] = [await createOrg(db), await createOrg(db)];
    await appendMany(good.id, 2);
    const entries = await appendMany(bad.id, 2);
    await tamper(`UPDATE audit_logs SET action = 'test.forged' WHERE id = $1`, entries[0]!.id);
    expect(await verify(good.id)).toEqual({ valid: true, entries_checked: 2 });
    const all = await db.asSystem('test', (tx) => verifyAllAuditChains(tx));
    expect(all.valid).toBe(false);
    // every chain tampered with in this file is invalid; the report names one of their first broken entries
    expect(tampered).toContain(all.first_invalid_id);
  });
});

describe('keyed checkpoints', () => {
  /** A key other than the process's: as good as a guess to whoever lacks AUDIT_CHECKPOINT_KEY. */
  const otherKey = () => randomBytes(32).toString('base64');
  const useKeys = (key: string, previousKeys?: string) => configureAuditCheckpoints({ AUDIT_CHECKPOINT_KEY: key, AUDIT_CHECKPOINT_PREVIOUS_KEYS: previousKeys });
  afterEach(() => useKeys(DEV_SECRETS.AUDIT_CHECKPOINT_KEY));

  const chainHead = async (tx: Transaction, orgId: string) =>
    (await selectRows<{ hash: string }>(tx, 'SELECT hash FROM audit_logs WHERE org_id = $1 ORDER BY seq DESC LIMIT 1', [orgId]))[0]?.hash ?? GENESIS_HASH;

  /** An entry INSERTed with the services' database credentials alone: linked to the chain's head with a correct SHA-256 hash. */
  async function forgeEntry(orgId: string) {
    return db.forOrg(orgId, async (tx) => {
      const prevHash = await chainHead(tx, orgId);
      const fields = { ...entryFields(orgId, 'test.forged'), metadata: { forged: true } };
      const forged = { ...fields, prev_hash: prevHash, hash: entryHash(prevHash, fields) };
      await execute(
        tx,
        `INSERT INTO audit_logs (id, org_id, actor_type, action, metadata, created_at, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [forged.id, orgId, forged.actor_type, forged.action, JSON.stringify(forged.metadata), forged.created_at.toISOString(), forged.prev_hash, forged.hash],
      );
      tampered.push(forged.id);
      return forged;
    });
  }

  /** A checkpoint row INSERTed with the services' database credentials. */
  const forgeCheckpoint = (orgId: string, checkpoint: AuditCheckpoint) =>
    db.forOrg(orgId, (tx) =>
      execute(tx, 'INSERT INTO audit_checkpoints (org_id, first_prev_hash, last_hash, entry_count, key_id, mac) VALUES ($1, $2, $3, $4, $5, $6)', [
        checkpoint.org_id,
        checkpoint.first_prev_hash,
        checkpoint.last_hash,
        checkpoint.entry_count,
        checkpoint.key_id,
        checkpoint.mac,
      ]),
    );

  const checkpointsOf = (orgId: string) =>
    db.forOrg(orgId, (tx) => selectRows<AuditCheckpoint>(tx, 'SELECT org_id, first_prev_hash, last_hash, entry_count, key_id, mac FROM audit_checkpoints WHERE org_id = $1 ORDER BY seq', [orgId]));

  it('when a row is forged with the services’ credentials at the end of a chain, then verify names it though its hash link is correct', async () => {
    const org = await createOrg(db);
    const entries = await appendMany(org.id, 3);
    const forged = await forgeEntry(org.id);
    expect(forged.prev_hash).toBe(entries[2]!.hash);
    expect(await verify(org.id)).toEqual({ valid: false, entries_checked: 4, first_invalid_id: forged.id });
  });

  it('when a legitimate append chains onto a forged row, then verify still names the forged row', async () => {
    const org = await createOrg(db);
    await appendMany(org.id, 2);
    const forged = await forgeEntry(org.id);
    const [after] = await appendMany(org.id, 1);
    expect(after!.prev_hash).toBe(forged.hash);
    expect(await verify(org.id)).toEqual({ valid: false, entries_checked: 3, first_invalid_id: forged.id });
  });

  it('when a row is forged with an explicit seq that sorts it before the chain’s first entry, then verify still reads and names it', async () => {
    const org = await createOrg(db);
    await appendMany(org.id, 2);
    const fields = { ...entryFields(org.id, 'test.forged.first'), metadata: {} };
    const hash = entryHash(GENESIS_HASH, fields);
    // seq is GENERATED ALWAYS, yet INSERT privilege alone may override it
    const seq = -Number.parseInt(randomBytes(4).toString('hex'), 16) - 1;
    await db.forOrg(org.id, (tx) =>
      execute(tx, `INSERT INTO audit_logs (seq, id, org_id, actor_type, action, created_at, prev_hash, hash) OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [
        seq,
        fields.id,
        org.id,
        fields.actor_type,
        fields.action,
        fields.created_at.toISOString(),
        GENESIS_HASH,
        hash,
      ]),
    );
    tampered.push(fields.id);
    expect(await verify(org.id)).toEqual({ valid: false, entries_checked: 1, first_invalid_id: fields.id });
  });

  it('when a checkpoint is forged for a forged row without the key (a wrong MAC, or a key id nobody holds), then verify names the row', async () => {
    const org = await createOrg(db);
    const [legitimate] = await appendMany(org.id, 1);
    const forged = await forgeEntry(org.id);
    const run = { org_id: org.id, first_prev_hash: legitimate!.hash, last_hash: forged.hash, entry_count: 1 };
    const guessed = AuditCheckpointKeys.fromConfig({ AUDIT_CHECKPOINT_KEY: otherKey() }).sign(run);
    const [{ key_id: processKeyId }] = (await checkpointsOf(org.id)) as [AuditCheckpoint];
    await forgeCheckpoint(org.id, { ...guessed, key_id: processKeyId });
    expect(await verify(org.id)).toEqual({ valid: false, entries_checked: 2, first_invalid_id: forged.id });

    const other = await createOrg(db);
    const [first] = await appendMany(other.id, 1);
    const forgedToo = await forgeEntry(other.id);
    await forgeCheckpoint(other.id, AuditCheckpointKeys.fromConfig({ AUDIT_CHECKPOINT_KEY: otherKey() }).sign({ ...run, org_id: other.id, first_prev_hash: first!.hash, last_hash: forgedToo.hash }));
    expect(await verify(other.id)).toEqual({ valid: false, entries_checked: 2, first_invalid_id: forgedToo.id });
  });

  it('when a genuine checkpoint’s MAC is reused for a run of another chain, then it does not verify and verify names the entry it claims', async () => {
    const [source, target] = [await createOrg(db), await createOrg(db)];
    await appendMany(source.id, 1);
    const forged = await forgeEntry(target.id);
    const [genuine] = (await checkpointsOf(source.id)) as [AuditCheckpoint];
    await forgeCheckpoint(target.id, { ...genuine, org_id: target.id, last_hash: forged.hash });
    expect(await verify(target.id)).toEqual({ valid: false, entries_checked: 1, first_invalid_id: forged.id });
  });

  it('when entries were checkpointed with a previous key, then they verify while it is among the previous keys, and not once it is dropped', async () => {
    const [oldKey, newKey] = [otherKey(), otherKey()];
    const org = await createOrg(db);
    useKeys(oldKey);
    const [signedWithOld] = await appendMany(org.id, 2);
    useKeys(newKey, oldKey);
    await appendMany(org.id, 1);
    expect(await verify(org.id)).toEqual({ valid: true, entries_checked: 3 });
    useKeys(newKey);
    expect(await verify(org.id)).toEqual({ valid: false, entries_checked: 1, first_invalid_id: signedWithOld!.id });
  });

  it('when entries predate the checkpoints (written with a correct chain, no checkpoint), then they are reported as legacy and valid, and a row forged after the first checkpoint is still found', async () => {
    const org = await createOrg(db);
    let prevHash = GENESIS_HASH;
    for (let i = 0; i < 3; i += 1) {
      const fields = { ...entryFields(org.id, `test.legacy.${i}`), metadata: { i } };
      const hash = entryHash(prevHash, fields);
      await owner.query('INSERT INTO audit_logs (id, org_id, actor_type, action, metadata, created_at, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', {
        bind: [fields.id, org.id, fields.actor_type, fields.action, JSON.stringify(fields.metadata), fields.created_at.toISOString(), prevHash, hash],
      });
      prevHash = hash;
    }
    expect(await verify(org.id)).toEqual({ valid: true, entries_checked: 3, legacy_entries: 3 });
    await appendMany(org.id, 2);
    expect(await verify(org.id)).toEqual({ valid: true, entries_checked: 5, legacy_entries: 3 });
    const forged = await forgeEntry(org.id);
    await appendMany(org.id, 1);
    expect(await verify(org.id)).toEqual({ valid: false, entries_checked: 6, legacy_entries: 3, first_invalid_id: forged.id });
  });

  it('when the owner deletes the newest entry, then its checkpoint is left over and verify is invalid (with no entry left to name)', async () => {
    const org = await createOrg(db);
    const entries = await appendMany(org.id, 3);
    await tamper('DELETE FROM audit_logs WHERE id = $1', entries[2]!.id);
    expect(await verify(org.id)).toEqual({ valid: false, entries_checked: 2 });
  });

  it('when one append writes to several chains, then each chain gets one checkpoint for its run and all verify', async () => {
    const [a, b] = [await createOrg(db), await createOrg(db)];
    await appendMany(a.id, 1);
    const entryOf = (orgId: string, i: number) => ({ orgId, actorType: 'system' as const, action: `test.several.${i}` });
    await db.asSystem('test', (tx) => appendAuditEntries(tx, [entryOf(a.id, 0), entryOf(b.id, 1), entryOf(a.id, 2), entryOf(b.id, 3), entryOf(a.id, 4)]));
    expect((await checkpointsOf(a.id)).map((c) => c.entry_count)).toEqual([1, 3]);
    expect((await checkpointsOf(b.id)).map((c) => c.entry_count)).toEqual([2]);
    expect(await verify(a.id)).toEqual({ valid: true, entries_checked: 4 });
    expect(await verify(b.id)).toEqual({ valid: true, entries_checked: 2 });
  });

  it('when nobody tampered, then 10,000 entries appended in large batches verify as valid', async () => {
    const org = await createOrg(db);
    const batch = (from: number) =>
      Array.from({ length: 2500 }, (_, i) => ({ orgId: org.id, actorType: 'user' as const, actorId: 'someone', action: 'test.volume', targetType: 'thing', targetId: String(from + i), metadata: { i: from + i } }));
    for (let from = 0; from < 10_000; from += 2500) await db.forOrg(org.id, (tx) => appendAuditEntries(tx, batch(from)));
    const started = performance.now();
    const result = await verify(org.id);
    const elapsed = performance.now() - started;
    expect(result).toEqual({ valid: true, entries_checked: 10_000 });
    console.log(`verified 10,000 audit entries (4 checkpoints) in ${elapsed.toFixed(0)} ms`);
  });
});

describe('Database.forOrg with beginWithFirstStatement (the worker’s group transactions)', () => {
  const beganWithFirstStatement = <T>(orgId: string, work: (tx: Transaction) => Promise<T>) => db.forOrg(orgId, work, { beginWithFirstStatement: true });
  const currentOrg = (tx: Transaction, bind: unknown[] = []) =>
    selectRows<{ org: string; scope: string }>(tx, `SELECT current_setting('app.org_id', true) AS org, current_setting('app.scope', true) AS scope${bind.length ? ' WHERE $1::int = 1' : ''}`, bind);

  it('when the first statement is a simple query, then START TRANSACTION and the context go in its round trip and row-level security applies', async () => {
    const [mine, other] = [await createOrg(db), await createOrg(db)];
    await appendMany(other.id, 1);
    const { result, statements } = await countTrips(() =>
      beganWithFirstStatement(mine.id, async (tx) => ({
        setting: await currentOrg(tx),
        visible: await selectRows<{ org_id: string }>(tx, 'SELECT DISTINCT org_id FROM audit_logs', []),
      })),
    );
    expect(result.setting).toEqual([{ org: mine.id, scope: '' }]);
    expect(result.visible).toEqual([]);
    expect(statements).toHaveLength(3);
    expect(statements[0]).toMatch(/^START TRANSACTION; SET LOCAL app\.org_id TO '[0-9a-f-]+'; SET LOCAL app\.scope TO ''; SELECT current_setting/);
  });

  it('when the first statement is a model query or has bind parameters, then START TRANSACTION and the context are sent just before it', async () => {
    const org = await createOrg(db);
    await appendMany(org.id, 1);
    expect(await beganWithFirstStatement(org.id, (transaction) => AuditLog.count({ transaction }))).toBe(1);
    expect(await beganWithFirstStatement(org.id, (tx) => currentOrg(tx, [1]))).toEqual([{ org: org.id, scope: '' }]);
    const { result, statements } = await countTrips(() => beganWithFirstStatement(org.id, (transaction) => Organization.findAll({ transaction })));
    expect(result.map((o) => o.id)).toEqual([org.id]);
    expect(statements[0]).toMatch(/^START TRANSACTION; SET LOCAL app\.org_id/);
  });

  it('when the work fails after its writes, then they roll back: every statement ran inside the transaction', async () => {
    const org = await createOrg(db);
    const before = await orgName(org.id);
    await expect(
      beganWithFirstStatement(org.id, async (tx) => {
        await selectRows(tx, `UPDATE organizations SET name = 'first write' WHERE id = '${org.id}' RETURNING id`, []);
        await AuditLog.count({ transaction: tx });
        await selectRows(tx, `UPDATE organizations SET name = 'second write' WHERE id = '${org.id}' RETURNING id`, []);
        throw new Error('failed after writing');
      }),
    ).rejects.toThrow('failed after writing');
    expect(await orgName(org.id)).toBe(before);
    // a first statement that fails rolls back too, and leaves the pooled connection sound
    await expect(beganWithFirstStatement(org.id, (tx) => selectRows(tx, 'SELECT no_such_column FROM organizations', []))).rejects.toThrow();
    expect(await beganWithFirstStatement(org.id, (tx) => currentOrg(tx))).toEqual([{ org: org.id, scope: '' }]);
  });

  it('when the work runs no statement, then START TRANSACTION and the context go just before the COMMIT, or only a bare ROLLBACK is sent', async () => {
    const org = await createOrg(db);
    const { result, statements } = await countTrips(() => beganWithFirstStatement(org.id, async () => 'nothing to do'));
    expect(result).toBe('nothing to do');
    expect(statements).toHaveLength(2);
    expect(statements[0]).toMatch(/^START TRANSACTION; SET LOCAL app\.org_id .*'$/);
    expect(statements[1]).toMatch(/^COMMIT;?$/);
    const failed = await countTrips(() =>
      expect(
        beganWithFirstStatement(org.id, async () => {
          throw new Error('failed before any statement');
        }),
      ).rejects.toThrow('failed before any statement'),
    );
    expect(failed.statements).toEqual(['ROLLBACK;']);
    // the pool's connections are sound afterwards
    expect(await beganWithFirstStatement(org.id, (tx) => currentOrg(tx))).toEqual([{ org: org.id, scope: '' }]);
  });
});
