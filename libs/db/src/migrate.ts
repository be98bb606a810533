import { Client } from 'pg';
import { Sequelize } from 'sequelize';
import { SequelizeStorage, Umzug } from 'umzug';
import { migrations } from './migrations';

export interface MigrateOptions {
  /** The owner's connection (DATABASE_ADMIN_URL). */
  adminUrl: string;
  /** The services' connection (DATABASE_URL): its role is created or updated to match. */
  serviceUrl: string;
  log?: (message: string) => void;
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
const quoteLiteral = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** Creates the database named in the admin URL when it does not exist yet (a fresh machine). */
export async function ensureDatabase(adminUrl: string): Promise<boolean> {
  const url = new URL(adminUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
    return true;
  } finally {
    await client.end();
  }
}

/**
 * Makes the services' role exist with the URL's password, owning nothing, without BYPASSRLS, with DML on the
 * tables and only SELECT/INSERT on the append-only audit log and its checkpoints. Idempotent: runs after every
 * migration.
 */
async function ensureServiceRole(admin: Sequelize, serviceUrl: string): Promise<void> {
  const url = new URL(serviceUrl);
  const role = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  const database = decodeURIComponent(url.pathname.slice(1));
  if (!role) throw new Error('DATABASE_URL must name the services role (postgres://ROLE:PASSWORD@host/db)');
  const [[owner]] = (await admin.query('SELECT current_user AS name')) as [{ name: string }[], unknown];
  if (owner.name === role) throw new Error('DATABASE_URL and DATABASE_ADMIN_URL must use different roles: the services role must own nothing');
  const r = quoteIdent(role);
  const passwordClause = password ? `PASSWORD ${quoteLiteral(password)}` : 'PASSWORD NULL';
  await admin.query(`
    DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${quoteLiteral(role)}) THEN
        CREATE ROLE ${r} LOGIN;
      END IF;
    END $$;
    ALTER ROLE ${r} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE ${passwordClause};
    -- Short OLTP statements: JIT compilation only adds latency (seen: 1.5 s on a 3-row plan at scale).
    ALTER ROLE ${r} SET jit = off;
    GRANT CONNECT ON DATABASE ${quoteIdent(database)} TO ${r};
    GRANT USAGE ON SCHEMA public TO ${r};
    GRANT SELECT, INSERT, UPDATE, DELETE ON organizations, users, invites, webhook_events, webhook_outbox, subscriptions, communication_logs, integration_sources, sso_connections TO ${r};
    REVOKE ALL ON audit_logs, audit_checkpoints FROM ${r};
    GRANT SELECT, INSERT ON audit_logs, audit_checkpoints TO ${r};
    REVOKE ALL ON "SequelizeMeta" FROM ${r};
    GRANT EXECUTE ON FUNCTION app_current_org(), app_is_system() TO ${r};
  `);
}

/** Applies pending migrations as the owner, then (re)grants the services' role. Running it twice is a no-op. */
export async function runMigrations({ adminUrl, serviceUrl, log = () => undefined }: MigrateOptions): Promise<string[]> {
  // One connection, so the advisory lock and the work it guards share a session.
  const admin = new Sequelize(adminUrl, { logging: false, dialect: 'postgres', pool: { max: 1 } });
  try {
    // Serialize concurrent migrators (several replicas starting at once) on one advisory lock.
    await admin.query('SELECT pg_advisory_lock(720301)');
    const umzug = new Umzug({
      migrations,
      context: admin.getQueryInterface(),
      storage: new SequelizeStorage({ sequelize: admin }),
      logger: undefined,
    });
    const applied = await umzug.up();
    for (const m of applied) log(`migration applied: ${m.name}`);
    await ensureServiceRole(admin, serviceUrl);
    await admin.query('SELECT pg_advisory_unlock(720301)');
    return applied.map((m) => m.name);
  } finally {
    await admin.close();
  }
}
