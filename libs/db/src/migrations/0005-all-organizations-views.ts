import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';
import { TENANT_TABLES } from './0002-row-level-security';

const POLICY_TABLES = [['organizations', 'id'], ...TENANT_TABLES.map((table) => [table, 'org_id'])] as const;

const setPolicies = (predicate: (orgColumn: string) => string) =>
  POLICY_TABLES.map(([table, column]) => `ALTER POLICY tenant_isolation ON ${table} USING (${predicate(column)}) WITH CHECK (${predicate(column)});`).join('\n');

/**
 * What 0003 left over 50 ms p99 on the scale fixture (bench/scale; docs/PERFORMANCE.md): a superadmin's
 * all-organizations views. They filter no org_id, while every earlier index starts with it; and the planner,
 * reading the policy's `app_is_system() OR …` as a per-row condition true for ~0.5 % of rows, sorted whole result
 * sets instead of walking an index (360 ms instead of 0.5 ms). The policies keep their predicate, with each setting
 * read once per statement (an InitPlan): the planner no longer treats the system scope as rare, and no row pays
 * for current_setting().
 */
export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    -- all-organizations status: last success, last three outcomes, last failure, the window's counts per service
    CREATE INDEX webhook_events_service_updated_idx ON webhook_events (service, updated_at DESC, id DESC);
    -- all-organizations status: pending, "ever succeeded/failed"; GET /integrations/events?service=&status=
    -- (org_id included: the policy reads it, so the pending count stays an index-only scan)
    CREATE INDEX webhook_events_service_status_received_idx ON webhook_events (service, status, received_at DESC, id DESC) INCLUDE (org_id);
    -- GET /audit-logs?since=&until= across organizations, newest first
    CREATE INDEX audit_logs_created_idx ON audit_logs (created_at DESC, id DESC);
    ${setPolicies((column) => `(SELECT app_is_system()) OR ${column} = (SELECT app_current_org())`)}
  `);
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    DROP INDEX IF EXISTS webhook_events_service_updated_idx, webhook_events_service_status_received_idx, audit_logs_created_idx;
    ${setPolicies((column) => `app_is_system() OR ${column} = app_current_org()`)}
  `);
};
