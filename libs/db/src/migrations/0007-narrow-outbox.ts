import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';

/**
 * The outbox moves out of `webhook_events` into a narrow table. Marking an event published used to UPDATE its
 * wide row; `status`, `updated_at` and `published_at` are all indexed, so that update was never HOT and wrote a new
 * version of the row plus an entry in each of its twelve indexes — as much PostgreSQL work as the INSERT itself
 * (10k events: INSERT 372 ms, mark 386 ms). Now the ingest transaction also inserts `(event_id, org_id)` here, and
 * the mark deletes it (10k: 40 ms + 15 ms). An event is `queued` once it has left the outbox (received → queued,
 * docs/MESSAGING.md "Event status"), which the API derives rather than stores (`webhook-gateway` integrations,
 * `EVENT_STATUS_SQL`).
 *
 * No foreign key: the row is written in the event's own transaction and events are never deleted, and a key check
 * would lock the event row on every insert.
 */
export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    CREATE TABLE webhook_outbox (
      event_id uuid PRIMARY KEY,
      org_id uuid NOT NULL,
      -- when the event entered the outbox (stored, or put back by a replay): the relay waits from here
      enqueued_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX webhook_outbox_enqueued_idx ON webhook_outbox (enqueued_at);
    ALTER TABLE webhook_outbox ENABLE ROW LEVEL SECURITY;
    ALTER TABLE webhook_outbox FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON webhook_outbox
      USING ((SELECT app_is_system()) OR org_id = (SELECT app_current_org()))
      WITH CHECK ((SELECT app_is_system()) OR org_id = (SELECT app_current_org()));

    INSERT INTO webhook_outbox (event_id, org_id, enqueued_at)
         SELECT id, org_id, updated_at FROM webhook_events WHERE published_at IS NULL;
    DROP INDEX webhook_events_outbox_idx;
    ALTER TABLE webhook_events DROP COLUMN published_at;
  `);
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    ALTER TABLE webhook_events ADD COLUMN published_at timestamptz;
    UPDATE webhook_events AS e SET published_at = e.updated_at,
                                   status = CASE WHEN e.status = 'received' THEN 'queued' ELSE e.status END
     WHERE NOT EXISTS (SELECT 1 FROM webhook_outbox o WHERE o.event_id = e.id);
    CREATE INDEX webhook_events_outbox_idx ON webhook_events (updated_at) WHERE published_at IS NULL;
    DROP TABLE webhook_outbox;
  `);
};
