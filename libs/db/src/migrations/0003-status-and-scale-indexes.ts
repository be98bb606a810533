import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';

/**
 * Indexes measured on the scale fixture (1k orgs, 100k users, 1M events, 1M audit entries; docs/PERFORMANCE.md):
 * the integration status reads each service's newest rows instead of aggregating an organization's whole history,
 * and the superadmin's all-organizations lists need an order that does not start with org_id.
 */
export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    -- status: last event per service; GET /integrations/events?service=
    CREATE INDEX webhook_events_org_service_received_idx ON webhook_events (org_id, service, received_at DESC, id DESC);
    -- status: window counts, last success, last three terminal outcomes
    CREATE INDEX webhook_events_org_service_updated_idx ON webhook_events (org_id, service, updated_at DESC, id DESC);
    -- status: last failure, "ever failed" (small: only rows that failed at least once)
    CREATE INDEX webhook_events_org_service_failed_idx ON webhook_events (org_id, service, updated_at DESC) WHERE last_error IS NOT NULL;
    -- superadmin lists across organizations
    CREATE INDEX webhook_events_received_idx ON webhook_events (received_at DESC, id DESC);
    CREATE INDEX users_created_idx ON users (created_at, id);
  `);
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    DROP INDEX IF EXISTS webhook_events_org_service_received_idx, webhook_events_org_service_updated_idx,
      webhook_events_org_service_failed_idx, webhook_events_received_idx, users_created_idx;
  `);
};
