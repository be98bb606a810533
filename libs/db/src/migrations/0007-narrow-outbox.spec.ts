import { QueryTypes } from 'sequelize';
import { scratchDatabase } from './scratch-database.spec-helper';

const MIGRATION = '0007-narrow-outbox';
const { owner, umzug } = scratchDatabase('m0007');

const query = <T extends object>(sql: string, bind: unknown[] = []) => owner().query<T>(sql, { bind, type: QueryTypes.SELECT });

describe(`migration ${MIGRATION}`, () => {
  it('when applied over events of which some were never confirmed, then exactly those are in the outbox; reverted, then they are the unpublished ones again', async () => {
    await umzug().down({ to: MIGRATION });
    const [org] = await query<{ id: string }>("INSERT INTO organizations (name, slug) VALUES ('m0007', 'm0007') RETURNING id");
    const insert = (eventId: string, status: string, published: boolean) =>
      query<{ id: string }>(
        `INSERT INTO webhook_events (org_id, service, event_id, event_type, event_timestamp, payload, status, published_at)
         VALUES ($1, 'user_service', $2, 'user.created', now(), '{}', $3, CASE WHEN $4 THEN now() END) RETURNING id`,
        [org!.id, eventId, status, published],
      ).then(([row]) => row!.id);
    const unconfirmed = await insert('unconfirmed', 'received', false);
    const confirmed = await insert('confirmed', 'queued', true);
    const processed = await insert('processed', 'processed', true);

    await umzug().up();
    expect((await query<{ event_id: string }>('SELECT event_id FROM webhook_outbox')).map((r) => r.event_id)).toEqual([unconfirmed]);
    expect(await query("SELECT 1 FROM information_schema.columns WHERE table_name = 'webhook_events' AND column_name = 'published_at'")).toEqual([]);

    // published meanwhile, under 0007: still `received` in its row, out of the outbox
    await owner().query('DELETE FROM webhook_outbox WHERE event_id = $1', { bind: [unconfirmed] });
    const late = await query<{ id: string }>(
      `WITH e AS (INSERT INTO webhook_events (org_id, service, event_id, event_type, event_timestamp, payload) VALUES ($1, 'user_service', 'late', 'user.created', now(), '{}') RETURNING id, org_id)
       INSERT INTO webhook_outbox (event_id, org_id) SELECT id, org_id FROM e RETURNING event_id AS id`,
      [org!.id],
    ).then(([row]) => row!.id);

    await umzug().down({ to: MIGRATION });
    const rows = await query<{ id: string; status: string; published: boolean }>('SELECT id, status, published_at IS NOT NULL AS published FROM webhook_events ORDER BY event_id');
    expect(new Map(rows.map((r) => [r.id, [r.status, r.published]]))).toEqual(
      new Map([
        [confirmed, ['queued', true]],
        [late, ['received', false]],
        [processed, ['processed', true]],
        [unconfirmed, ['queued', true]],
      ]),
    );
    await umzug().up();
  });
});
