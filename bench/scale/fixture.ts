import { createHash } from 'node:crypto';
import { Client } from 'pg';

/**
 * The scale fixture: 1k organizations, 100k users, 1M webhook events, 1M audit entries, generated server-side
 * (INSERT … SELECT generate_series) as the tables' owner, so loading takes seconds, not an hour of round trips.
 *
 * Shape: organization 1 is the big tenant (every 10th row of each table: 10k users, 100k events, 100k audit
 * entries, spread over the whole time range); the other 999 share the rest evenly (~90 users, ~900 events, ~900 audit entries each). Events spread over 30
 * days (about one per second), statuses 94 % processed, 3 % failed, 1 % each retrying/queued/skipped; audit
 * entries over the last ~11.6 days in insertion (seq) order. Ids are deterministic (see orgId).
 */
export const SCALE = { orgs: 1000, users: 100_000, events: 1_000_000, audit: 1_000_000 } as const;

/** Organization n's id, derived as the SQL below derives it: md5('org'||n) with the version-4 and variant bits set. */
export const orgId = (n: number) => {
  const hex = createHash('md5').update(`org${n}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20)}`;
};

/** SQL for organization number `n`'s id (an RFC 4122-shaped UUID: the services reject others in tokens). */
const orgUuid = (n: string) => `overlay(overlay(md5('org' || (${n})) placing '4' from 13) placing '8' from 17)::uuid`;

/** The SQL mapping row number `i` to its organization's id: every 10th row to org 1 (the big tenant), the rest round-robin. */
const orgOf = (i: string) => orgUuid(`CASE WHEN ${i} % 10 = 0 THEN 1 ELSE 2 + ${i} % ${SCALE.orgs - 1} END`);

export interface LoadTimings {
  [table: string]: number;
}

export async function loadScaleFixture(adminUrl: string, passwordHash: string, log: (m: string) => void = () => undefined): Promise<LoadTimings> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  const timings: LoadTimings = {};
  const step = async (name: string, sql: string, params: unknown[] = []) => {
    const started = Date.now();
    await client.query(sql, params);
    timings[name] = (Date.now() - started) / 1000;
    log(`  ${name}: ${timings[name]} s`);
  };
  try {
    await client.query("SET synchronous_commit = off; SET maintenance_work_mem = '256MB'; SET work_mem = '64MB'");
    // Bulk load without maintaining secondary indexes row by row; they are rebuilt once, sorted, afterwards.
    const { rows: secondary } = await client.query<{ name: string; def: string }>(
      `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
       WHERE t.relname IN ('users', 'webhook_events', 'audit_logs') AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`,
    );
    await client.query(secondary.map((ix) => `DROP INDEX ${ix.name};`).join('\n'));
    await step(
      'organizations',
      `INSERT INTO organizations (id, name, slug, created_at, updated_at)
       SELECT ${orgUuid('n')}, 'Scale Org ' || n, 'scale-org-' || n, now() - (n || ' hours')::interval, now()
       FROM generate_series(1, ${SCALE.orgs}) n`,
    );
    await step(
      'users',
      `INSERT INTO users (org_id, email, password_hash, first_name, last_name, role, status, department, title, external_id, created_at, updated_at)
       SELECT ${orgOf('i')}, 'user' || i || '@scale.test', $1, 'First' || (i % 997), 'Last' || (i % 1009),
              CASE WHEN i % 23 = 0 THEN 'admin' ELSE 'user' END,
              CASE WHEN i % 17 = 0 THEN 'suspended' WHEN i % 13 = 0 THEN 'pending' WHEN i % 29 = 0 THEN 'inactive' ELSE 'active' END,
              (ARRAY['Engineering','Sales','Support','Finance','Marketing'])[1 + i % 5], 'Title ' || (i % 40),
              CASE WHEN i % 2 = 0 THEN 'ext_' || i END,
              now() - (i % 365 || ' days')::interval - (i % 86400 || ' seconds')::interval, now()
       FROM generate_series(1, ${SCALE.users}) i`,
      [passwordHash],
    );
    await step(
      'webhook_events',
      `INSERT INTO webhook_events (org_id, service, event_id, event_type, event_timestamp, status, payload, attempts, last_error,
                                   history, received_at, processed_at, updated_at)
       SELECT org_id, service, 'evt_' || i, event_type, received_at,
              status, jsonb_build_object('event_id', 'evt_' || i, 'event_type', event_type, 'timestamp', received_at,
                                         'metadata', jsonb_build_object('source', service, 'version', '1.0'),
                                         'data', jsonb_build_object('id', 'ent_' || (i % 50000), 'email', 'user' || (i % 100000) || '@scale.test')),
              CASE WHEN status IN ('failed') THEN 4 WHEN status = 'retrying' THEN 2 ELSE 1 END,
              CASE WHEN status IN ('failed', 'retrying') THEN 'provider timeout' END,
              '[]'::jsonb, received_at,
              CASE WHEN status IN ('processed', 'failed', 'skipped') THEN received_at + interval '40 milliseconds' END, received_at
       FROM (
         SELECT i, ${orgOf('i')} AS org_id,
                (ARRAY['user_service','payment_service','communication_service'])[1 + i % 3] AS service,
                (ARRAY['user.created','subscription.updated','message.delivered'])[1 + i % 3] AS event_type,
                -- (i + i / 10) % 100, not i % 100: every 10th row is org 1's, and it needs the whole mix of statuses too
                CASE WHEN (i + i / 10) % 100 < 94 THEN 'processed' WHEN (i + i / 10) % 100 < 97 THEN 'failed' WHEN (i + i / 10) % 100 = 97 THEN 'retrying'
                     WHEN (i + i / 10) % 100 = 98 THEN 'queued' ELSE 'skipped' END AS status,
                now() - ((i * 2.592) || ' seconds')::interval AS received_at
         FROM generate_series(1, ${SCALE.events}) i
       ) e`,
    );
    await step(
      'audit_logs',
      `INSERT INTO audit_logs (org_id, actor_type, actor_id, action, target_type, target_id, request_id, ip, metadata, created_at, prev_hash, hash)
       SELECT ${orgOf('i')}, CASE WHEN i % 4 = 0 THEN 'system' ELSE 'user' END, md5('actor' || (i % 5000))::uuid::text,
              (ARRAY['user.created','user.updated','integration.user.synced','integration.subscription.synced','integration.communication.synced',
                     'user.login_failed','org.updated','integration.event.dead_lettered'])[1 + i % 8],
              'user', md5('target' || (i % 100000))::uuid::text, 'req-' || i, '10.0.' || (i % 255) || '.' || (i % 250),
              jsonb_build_object('n', i), now() - ((${SCALE.audit} - i) || ' seconds')::interval,
              md5('prev' || i) || md5('p' || i), md5('hash' || i) || md5('h' || i)
       FROM generate_series(1, ${SCALE.audit}) i`,
    );
    await step('rebuild indexes', secondary.map((ix) => `${ix.def};`).join('\n'));
    await step('vacuum analyze', 'VACUUM ANALYZE organizations, users, webhook_events, audit_logs');
    return timings;
  } finally {
    await client.end();
  }
}
