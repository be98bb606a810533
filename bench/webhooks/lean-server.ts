// The lean reference for bench/webhooks: the leanest honest way to durably store and hand on webhook events, with
// none of the product's checks (no signature, validation, rate limit, outbox or group commit). Plain Express and
// express.json; per request one multi-row INSERT … ON CONFLICT DO NOTHING RETURNING with bind parameters through
// pg.Pool; a publish per new row on one confirm channel; waitForConfirms; 202. The pooled connections carry the system
// scope for their whole session (set once per connection): the tables' row-level security applies to every role.
import amqp from 'amqplib';
import express from 'express';
import { Pool } from 'pg';

const env = process.env;
const prefix = env['RABBITMQ_NAME_PREFIX'] ?? '';
const pool = new Pool({ connectionString: env['DATABASE_URL'], max: 10 });
pool.on('connect', (client) => void client.query("SELECT set_config('app.scope', 'system', false), set_config('app.reason', 'bench: lean reference', false)"));
const organizations = new Map<string, Promise<string>>();
const organizationId = (slug: string) => {
  let id = organizations.get(slug);
  if (!id) {
    id = pool.query<{ id: string }>('SELECT id FROM organizations WHERE slug = $1', [slug]).then(({ rows }) => {
      if (!rows[0]) throw new Error(`no organization ${slug}`);
      return rows[0].id;
    });
    organizations.set(slug, id);
  }
  return id;
};

const INSERT = `INSERT INTO webhook_events (org_id, service, event_id, event_type, event_timestamp, payload)
  SELECT $1::uuid, $2, e->>'event_id', e->>'event_type', (e->>'timestamp')::timestamptz, e FROM jsonb_array_elements($3::jsonb) AS e
  ON CONFLICT (org_id, service, event_id) DO NOTHING
  RETURNING id, event_id, event_type`;

async function main(): Promise<void> {
  const connection = await amqp.connect(env['RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672');
  const channel = await connection.createConfirmChannel();
  const app = express();
  app.use(express.json({ limit: '1mb' }));
  app.get('/readyz', (_req, res) => {
    res.json({ status: 'ready' });
  });
  app.post('/webhooks/:endpoint', (req, res, next) => {
    const service = String(req.params['endpoint']).replace('-', '_');
    const events = (Array.isArray(req.body?.events) ? req.body.events : [req.body]) as { organization_id: string }[];
    (async () => {
      const orgId = await organizationId(events[0]!.organization_id);
      const { rows } = await pool.query<{ id: string; event_id: string; event_type: string }>(INSERT, [orgId, service, JSON.stringify(events)]);
      for (const row of rows) {
        const body = { webhook_event_id: row.id, org_id: orgId, service, event_type: row.event_type, event_id: row.event_id };
        channel.publish(`${prefix}integration.events`, `${service}.${row.event_type}`, Buffer.from(JSON.stringify(body)), {
          persistent: true,
          messageId: row.id,
          contentType: 'application/json',
        });
      }
      await channel.waitForConfirms();
      res.status(202).json({ status: 'accepted', accepted: rows.length });
    })().catch(next);
  });
  const server = app.listen(Number(env['BENCH_PORT']));
  process.once('SIGTERM', () =>
    server.close(() => {
      void Promise.allSettled([connection.close(), pool.end()]).then(() => process.exit(0));
    }),
  );
}

void main();
