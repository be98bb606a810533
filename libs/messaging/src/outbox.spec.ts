import { randomUUID } from 'node:crypto';
import { QueryTypes } from 'sequelize';
import { Database, eventStatusSql, markEventsPublished, Organization, OUTBOX_INSERT, returnEventsToOutbox } from '@saas/db';
import { PublishedMarker } from './outbox';

const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 4 });
afterAll(() => db.close());

const createOrg = () => {
  const slug = `outbox-${randomUUID().slice(0, 8)}`;
  return db.asSystem('test fixture', (transaction) => Organization.create({ name: slug, slug }, { transaction }));
};

/** `n` events of one organization stored the way ingest stores them: with their outbox rows, in one statement. */
async function storedEvents(orgId: string, n: number): Promise<string[]> {
  const rows = await db.asSystem('test fixture', (transaction) =>
    db.sequelize.query<{ id: string }>(
      `WITH stored AS (
         INSERT INTO webhook_events (org_id, service, event_id, event_type, event_timestamp, payload)
         SELECT $1, 'user_service', 'evt-' || g || '-' || $2, 'user.created', now(), '{}'::jsonb FROM generate_series(1, $3) g
         RETURNING id, org_id, true AS inserted
       ), enqueued AS (${OUTBOX_INSERT.text})
       SELECT id FROM stored`,
      { bind: [orgId, randomUUID(), n], type: QueryTypes.SELECT, transaction },
    ),
  );
  return rows.map((r) => r.id);
}

/** Each event's outbox entry time (undefined: not in the outbox) and its status as the API shows it. */
const outboxState = (ids: string[]) =>
  db.asSystem('test read', async (transaction) => {
    const rows = await db.sequelize.query<{ id: string; enqueued_at: Date | null; shown: string }>(
      `SELECT e.id, o.enqueued_at, ${eventStatusSql('e')} AS shown
         FROM webhook_events e LEFT JOIN webhook_outbox o ON o.event_id = e.id WHERE e.id = ANY($1::uuid[])`,
      { bind: [ids], type: QueryTypes.SELECT, transaction },
    );
    return new Map(rows.map((r) => [r.id, r]));
  });

describe('the outbox', () => {
  it('when events are stored, then each is in the outbox and shown as received', async () => {
    const org = await createOrg();
    const ids = await storedEvents(org.id, 3);
    const state = await outboxState(ids);
    expect([...state.values()].map((s) => [s.enqueued_at instanceof Date, s.shown])).toEqual(Array(3).fill([true, 'received']));
  });

  it('when events are marked published, then exactly those leave the outbox and show as queued, and a second mark changes nothing', async () => {
    const org = await createOrg();
    const [first, second, untouched] = await storedEvents(org.id, 3);
    await markEventsPublished(db, [first!, second!]);
    await markEventsPublished(db, [first!]);
    const state = await outboxState([first!, second!, untouched!]);
    expect(state.get(first!)).toMatchObject({ enqueued_at: null, shown: 'queued' });
    expect(state.get(second!)).toMatchObject({ enqueued_at: null, shown: 'queued' });
    expect(state.get(untouched!)).toMatchObject({ enqueued_at: expect.any(Date), shown: 'received' });
  });

  it('when a worker transaction holds the events locked, then marking them published does not wait for it', async () => {
    const org = await createOrg();
    const ids = await storedEvents(org.id, 50);
    let release!: () => void;
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    // the worker's group lock (libs/db access/webhook-event-attempts), held until the mark is done: a mark that
    // waited for it would never finish and the test would time out
    const worker = db.forOrg(org.id, async (transaction) => {
      await db.sequelize.query('SELECT id FROM webhook_events WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE', { bind: [ids], transaction });
      locked();
      await new Promise<void>((r) => (release = r));
    });
    await isLocked;
    await markEventsPublished(db, ids);
    release();
    await worker;
    expect([...(await outboxState(ids)).values()].every((s) => s.enqueued_at === null)).toBe(true);
  });

  it('when published events are returned to the outbox (a replay), then they are back in it from now, also if still there', async () => {
    const org = await createOrg();
    const [published, pending] = await storedEvents(org.id, 2);
    await markEventsPublished(db, [published!]);
    const before = (await outboxState([pending!])).get(pending!)!.enqueued_at!;
    await db.asSystem('test replay', (tx) =>
      returnEventsToOutbox(tx, [
        { id: published!, org_id: org.id },
        { id: pending!, org_id: org.id },
      ]),
    );
    const state = await outboxState([published!, pending!]);
    expect(state.get(published!)!.enqueued_at).toBeInstanceOf(Date);
    expect(state.get(pending!)!.enqueued_at!.getTime()).toBeGreaterThan(before.getTime());
  });

  it('when a tenant reads the outbox, then row-level security shows it only its own organization’s rows', async () => {
    const [mine, theirs] = [await createOrg(), await createOrg()];
    const [myEvent] = await storedEvents(mine.id, 1);
    await storedEvents(theirs.id, 1);
    const visible = await db.forOrg(mine.id, (transaction) =>
      db.sequelize.query<{ event_id: string }>('SELECT event_id FROM webhook_outbox', { type: QueryTypes.SELECT, transaction }),
    );
    expect(visible.map((r) => r.event_id)).toEqual([myEvent]);
  });

  it('when confirms arrive within the marker\'s window, then one DELETE takes all their events out of the outbox', async () => {
    const org = await createOrg();
    const ids = await storedEvents(org.id, 3);
    const deletes = jest.spyOn(db, 'writeAsSystem');
    try {
      const marker = new PublishedMarker(db, 50);
      const first = marker.mark([ids[0]!]);
      const second = marker.mark([ids[1]!]);
      await new Promise((resolve) => setTimeout(resolve, 10));
      await Promise.all([first, second, marker.mark([ids[2]!])]);
      expect(deletes).toHaveBeenCalledTimes(1);
    } finally {
      deletes.mockRestore();
    }
    const state = await outboxState(ids);
    expect([...state.values()].map((s) => [s.enqueued_at, s.shown])).toEqual(Array(3).fill([null, 'queued']));
  });
});
