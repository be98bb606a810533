import { Sequelize } from 'sequelize';
import { randomBytes } from 'node:crypto';
import { AuditLog, Database, Organization } from '@saas/db';
import { appendAudit, appendAuditEntries, GENESIS_HASH, verifyAllAuditChains, verifyAuditChain } from './index';

const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 6 });
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
  const entries: AuditLog[] = [];
  for (let i = 0; i < n; i += 1) {
    entries.push(
      await db.forOrg(orgId, (tx) =>
        appendAudit(tx, { orgId, actorType: 'system', action: 'test.step', targetType: 'thing', targetId: String(i), metadata: { i, nested: { b: 1, a: [1, 2] } } }),
      ),
    );
  }
  return entries;
}

const verify = (orgId: string) => db.forOrg(orgId, (tx) => verifyAuditChain(tx, orgId));

describe('appendAudit', () => {
  it('when one transaction appends several entries after earlier transactions did, then the chain stays valid and linked', async () => {
    const org = await createOrg(db);
    await appendMany(org.id, 2);
    const inOne = await db.forOrg(org.id, async (tx) => {
      const written: AuditLog[] = [];
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
