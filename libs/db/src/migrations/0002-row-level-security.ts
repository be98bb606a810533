import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';

export const TENANT_TABLES = ['users', 'invites', 'audit_logs', 'webhook_events', 'subscriptions', 'communication_logs'] as const;

/**
 * Row-level security beneath the application code (docs/TENANCY.md "Row-level security"). A transaction sees a
 * tenant's rows only after `set_config('app.org_id', <uuid>, true)`; cross-organization work must say so with
 * `app.scope = 'system'`.
 * FORCE applies the policies to the tables' owner as well; only superusers (the migration role here) bypass them.
 */
export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  const policies = TENANT_TABLES.map(
    (table) => `
    ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
    ALTER TABLE ${table} FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON ${table}
      USING (app_is_system() OR org_id = app_current_org())
      WITH CHECK (app_is_system() OR org_id = app_current_org());`,
  ).join('\n');
  await qi.sequelize.query(`
    CREATE FUNCTION app_current_org() RETURNS uuid LANGUAGE sql STABLE AS
      $$ SELECT NULLIF(current_setting('app.org_id', true), '')::uuid $$;
    CREATE FUNCTION app_is_system() RETURNS boolean LANGUAGE sql STABLE AS
      $$ SELECT coalesce(current_setting('app.scope', true), '') = 'system' $$;

    ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
    ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON organizations
      USING (app_is_system() OR id = app_current_org())
      WITH CHECK (app_is_system() OR id = app_current_org());
    ${policies}
  `);
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  const tables = ['organizations', ...TENANT_TABLES];
  await qi.sequelize.query(
    tables.map((t) => `DROP POLICY IF EXISTS tenant_isolation ON ${t}; ALTER TABLE ${t} NO FORCE ROW LEVEL SECURITY; ALTER TABLE ${t} DISABLE ROW LEVEL SECURITY;`).join('\n') +
      'DROP FUNCTION IF EXISTS app_current_org(); DROP FUNCTION IF EXISTS app_is_system();',
  );
};
