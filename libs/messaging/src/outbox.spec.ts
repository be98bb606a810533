import { randomUUID } from 'node:crypto';
import { QueryTypes } from 'sequelize';
import { Database, Organization } from '@saas/db';
import { markPublished } from './outbox';

const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 4 });
afterAll(() => db.close());

const createOrg = () => {
  const slug = `outbox-${randomUUID().slice(0, 8)}`;
  return db.asSystem('test fixture', (transaction) => Organization.create({ name: slug, slug }, { transaction }));
};

/** `n` unpublished events of one organization, inserted in random id order (heap order ≠ id order). */
async function unpublishedEvents(orgId: string, n: number): Promise<string[]> {
  const rows = await db.asSystem('test fixture', (transaction) =>
    db.sequelize.query<{ id: string }>(
      `INSERT INTO webhook_events (id, org_id, service, event_id, event_type, event_timestamp, payload)
       SELECT gen_random_uuid(), $1, 'user_service', 'evt-' || g || '-' || $2, 'user.created', now(), '{}'::jsonb FROM generate_series(1, $3) g
       RETURNING id`,
      { bind: [orgId, randomUUID(), n], type: QueryTypes.SELECT, transaction },
    ),
  );
  return rows.map((r) => r.id);
}

describe('markPublished', () => {
  it('when a worker transaction locks the same events in id order meanwhile, then both finish and no deadlock is reported', async () => {
    const org = await createOrg();
    const ids = await unpublishedEvents(org.id, 400);
    for (let round = 0; round < 6; round += 1) {
      // the worker's group lock (apps/integration-worker event-store): every event, in id order, held briefly
      const worker = db.forOrg(org.id, async (transaction) => {
        await db.sequelize.query('SELECT id FROM webhook_events WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE', { bind: [ids], transaction });
        await new Promise((r) => setTimeout(r, 20));
      });
      const mark = markPublished(db, [...ids].reverse());
      await expect(Promise.all([worker, mark])).resolves.toBeDefined();
      await db.asSystem('test reset', (transaction) =>
        db.sequelize.query("UPDATE webhook_events SET published_at = NULL, status = 'received' WHERE id = ANY($1::uuid[])", { bind: [ids], transaction }),
      );
    }
  });

  it('when events are marked, then exactly the unpublished ones become queued with a publish time, and a second mark changes nothing', async () => {
    const org = await createOrg();
    const [first, second, untouched] = await unpublishedEvents(org.id, 3);
    await markPublished(db, [first!, second!]);
    const read = () =>
      db.asSystem('test read', (transaction) =>
        db.sequelize.query<{ id: string; status: string; published_at: Date | null }>('SELECT id, status, published_at FROM webhook_events WHERE id = ANY($1::uuid[])', {
          bind: [[first, second, untouched]],
          type: QueryTypes.SELECT,
          transaction,
        }),
      );
    const marked = new Map((await read()).map((r) => [r.id, r]));
    expect(marked.get(first!)).toMatchObject({ status: 'queued', published_at: expect.any(Date) });
    expect(marked.get(second!)).toMatchObject({ status: 'queued', published_at: expect.any(Date) });
    expect(marked.get(untouched!)).toMatchObject({ status: 'received', published_at: null });
    await markPublished(db, [first!]);
    expect(new Map((await read()).map((r) => [r.id, r])).get(first!)!.published_at).toEqual(marked.get(first!)!.published_at);
  });
});
