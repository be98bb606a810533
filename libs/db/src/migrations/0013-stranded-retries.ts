import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';

/**
 * The worker's stranded-retry relay (libs/messaging stranded-retries.ts) looks for `retrying` events whose retry has
 * not come back for a while, every few seconds and across every organization. Only events waiting on the retry
 * ladder are in this index, so the look-up reads a handful of entries whatever the size of webhook_events.
 */
export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`CREATE INDEX webhook_events_retrying_idx ON webhook_events (updated_at) WHERE status = 'retrying'`);
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query('DROP INDEX IF EXISTS webhook_events_retrying_idx');
};
