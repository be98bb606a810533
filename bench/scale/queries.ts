import { Client } from 'pg';
import { integrationStatusStatements, userListStatement, type UserListQuery } from '@saas/db';
import { percentile } from '../lib';

/**
 * The SQL the list/status endpoints and the e-mail lookups need at scale, run as the services role under row-level security
 * (inside a transaction with the org context, as Database.forOrg/asSystem set it). Used to see plans and to
 * measure what an endpoint costs in the database before (and beside) measuring it over HTTP.
 */
export interface QueryCase {
  name: string;
  endpoint: string;
  /** null: superadmin across organizations (asSystem). */
  orgId: string | null;
  sql: string;
  params: unknown[];
}

const EVENT_COLUMNS = 'id, org_id, service, event_id, event_type, status, attempts, last_error, duplicate_count, received_at, processed_at';
const AUDIT_COLUMNS = 'id, org_id, actor_type, actor_id, action, target_type, target_id, request_id, ip, metadata, created_at, prev_hash, hash, seq';

const CURSOR_TS = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_ts`;

const orgFilter = (orgId: string | null, n = 1) => (orgId ? `org_id = $${n}` : 'true');

/** The audit entries of one day, two days back (the fixture writes one a second over the last 11.6 days). */
export const AUDIT_RANGE = { since: new Date(Date.now() - 3 * 86400_000).toISOString(), until: new Date(Date.now() - 2 * 86400_000).toISOString() };

/** A fixture user's e-mail and one nobody has. */
const LOOKUP_EMAILS = ['user12345@scale.test', 'nobody@scale.test'];

/** `GET /users?q=` of the HTTP phase. */
export const USERS_Q = 'last12';

/** `GET /users` as the route builds it (`userListStatement`), so the measured SQL cannot drift from the endpoint's. */
const usersCase = (name: string, orgId: string | null, filter: Omit<UserListQuery, 'orgId' | 'limit'>): QueryCase => {
  const { text, bind } = userListStatement({ orgId, limit: 50, ...filter });
  return { name, endpoint: 'GET /users', orgId, sql: text, params: bind };
};

/** The cases for one tenant (or, with null, for a superadmin across all tenants). */
export function queryCases(label: string, orgId: string | null): QueryCase[] {
  const p = orgId ? [orgId] : [];
  const n = p.length + 1;
  const org = orgFilter(orgId);
  const { since, until } = AUDIT_RANGE;
  return [
    usersCase(`users ${label}`, orgId, {}),
    usersCase(`users ?status=active&role=admin ${label}`, orgId, { status: 'active', role: 'admin' }),
    // one name in ~92 (Last12, Last120…129): a page within the newest ~4.7k users
    usersCase(`users ?q= ${label}`, orgId, { q: USERS_Q }),
    // nothing matches: every user of the scope is read
    usersCase(`users ?q= (no match) ${label}`, orgId, { q: 'no-such-user' }),
    { name: `audit-logs ${label}`, endpoint: 'GET /audit-logs', orgId, sql: `SELECT ${AUDIT_COLUMNS} FROM audit_logs WHERE ${org} ORDER BY seq DESC LIMIT 51`, params: p },
    {
      name: `audit-logs ?action= ${label}`,
      endpoint: 'GET /audit-logs',
      orgId,
      sql: `SELECT ${AUDIT_COLUMNS} FROM audit_logs WHERE ${org} AND action = $${n} ORDER BY seq DESC LIMIT 51`,
      params: [...p, 'org.updated'],
    },
    {
      name: `audit-logs ?since&until ${label}`,
      endpoint: 'GET /audit-logs',
      orgId,
      sql: `SELECT ${AUDIT_COLUMNS}, ${CURSOR_TS} FROM audit_logs WHERE ${org} AND created_at >= $${n} AND created_at < $${n + 1}
            ORDER BY created_at DESC, id DESC LIMIT 51`,
      params: [...p, since, until],
    },
    {
      name: `integrations/events ${label}`,
      endpoint: 'GET /integrations/events',
      orgId,
      sql: `SELECT ${EVENT_COLUMNS} FROM webhook_events WHERE ${org} ORDER BY received_at DESC, id DESC LIMIT 51`,
      params: p,
    },
    {
      name: `integrations/events ?service&status=failed ${label}`,
      endpoint: 'GET /integrations/events',
      orgId,
      sql: `SELECT ${EVENT_COLUMNS} FROM webhook_events WHERE ${org} AND service = 'payment_service' AND status = 'failed' ORDER BY received_at DESC, id DESC LIMIT 51`,
      params: p,
    },
    {
      name: `integrations/events ?event_type ${label}`,
      endpoint: 'GET /integrations/events',
      orgId,
      sql: `SELECT ${EVENT_COLUMNS} FROM webhook_events WHERE ${org} AND event_type = 'message.delivered' ORDER BY received_at DESC, id DESC LIMIT 51`,
      params: p,
    },
    // an e-mail lookup: a login in system scope (session.ts), the worker's syncs within one organization (external-sync.ts, communications.ts)
    orgId
      ? { name: `sync: users by e-mail ${label}`, endpoint: 'integration-worker', orgId, sql: 'SELECT id FROM users WHERE org_id = $1 AND email_lower = ANY($2::text[])', params: [orgId, LOOKUP_EMAILS] }
      : { name: `login: user by e-mail ${label}`, endpoint: 'POST /auth/login', orgId, sql: 'SELECT id, org_id, password_hash, status FROM users WHERE email_lower = $1', params: [LOOKUP_EMAILS[0]] },
    ...Object.entries(integrationStatusStatements(orgId, new Date(Date.now() - 900_000))).map(([statement, { sql, bind }]) => ({
      name: `integrations/status (${statement}) ${label}`,
      endpoint: 'GET /integrations/status',
      orgId,
      sql,
      params: bind,
    })),
  ];
}

export interface QueryMeasurement {
  name: string;
  endpoint: string;
  p50: number;
  p99: number;
  max: number;
  runs: number;
  /** The first lines of EXPLAIN (ANALYZE, BUFFERS). */
  plan: string[];
}

async function inScope<T>(client: Client, orgId: string | null, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    if (orgId) await client.query("SELECT set_config('app.org_id', $1, true), set_config('app.scope', '', true)", [orgId]);
    else await client.query("SELECT set_config('app.scope', 'system', true)");
    return await work();
  } finally {
    await client.query('COMMIT');
  }
}

/**
 * Runs each case up to `runs` times (after 2 warm-ups; fewer, at least 5, once a case has used `budgetMs`) as the
 * services role; latency covers the whole scoped transaction, as an endpoint pays it.
 */
export async function measureQueries(serviceUrl: string, cases: QueryCase[], runs = 100, budgetMs = 5000): Promise<QueryMeasurement[]> {
  const client = new Client({ connectionString: serviceUrl });
  await client.connect();
  const out: QueryMeasurement[] = [];
  try {
    for (const c of cases) {
      const samples: number[] = [];
      const caseStarted = Date.now();
      for (let i = 0; i < runs + 2; i++) {
        const started = process.hrtime.bigint();
        await inScope(client, c.orgId, () => client.query(c.sql, c.params));
        if (i >= 2) samples.push(Number(process.hrtime.bigint() - started) / 1e6);
        if (samples.length >= 5 && Date.now() - caseStarted > budgetMs) break;
      }
      const explained = await inScope(client, c.orgId, () => client.query(`EXPLAIN (ANALYZE, BUFFERS) ${c.sql}`, c.params));
      const plan = explained.rows.map((r: Record<string, string>) => r['QUERY PLAN']!);
      out.push({
        name: c.name,
        endpoint: c.endpoint,
        p50: Math.round(percentile(samples, 50) * 100) / 100,
        p99: Math.round(percentile(samples, 99) * 100) / 100,
        max: Math.round(Math.max(...samples) * 100) / 100,
        runs: samples.length,
        plan,
      });
    }
  } finally {
    await client.end();
  }
  return out;
}
