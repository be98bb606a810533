import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';

/**
 * The outbox relay waits for a row's last change (updated_at), not its receipt: a replay puts an old event back in
 * the outbox and publishes it itself, and the relay must not send a second copy meanwhile.
 */
export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    DROP INDEX IF EXISTS webhook_events_outbox_idx;
    CREATE INDEX webhook_events_outbox_idx ON webhook_events (updated_at) WHERE published_at IS NULL;
  `);
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    DROP INDEX IF EXISTS webhook_events_outbox_idx;
    CREATE INDEX webhook_events_outbox_idx ON webhook_events (received_at) WHERE published_at IS NULL;
  `);
};
