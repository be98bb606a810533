import { randomUUID } from 'node:crypto';
import { QueryTypes } from 'sequelize';
import { Processes, db, entityKey, newOrg, sampleEvent, serviceEnv, settleAndCount, stream, verdict, type PlannedEvent } from './support';

const ENTITIES = Number(process.env['FAULT_REPLICA_ENTITIES'] ?? 100);
const VERSIONS = 5;

afterAll(() => db.close());

/** Per entity: user.created then VERSIONS-1 updates with rising timestamps; version v sets last_name "v<v>". */
function userHistory(orgSlug: string, entity: string): PlannedEvent[] {
  const start = Date.now() - 60000;
  return Array.from({ length: VERSIONS }, (_, v) => {
    const created = sampleEvent('user-service', { orgSlug, entity, timestamp: new Date(start + v * 1000) });
    const payload =
      v === 0
        ? { ...created, data: { ...(created['data'] as object), last_name: 'v0' } }
        : { ...created, event_id: `evt_${randomUUID()}`, event_type: 'user.updated', data: { user_id: `ext_${entity}`, last_name: `v${v}` } };
    return { endpoint: 'user-service' as const, payload };
  });
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

describe('fault: two webhook-gateways and two workers at once', () => {
  it(`when ${ENTITIES} users' histories arrive shuffled, each event delivered twice, across two gateways consumed by two workers, then nothing is lost or applied twice and every user ends at its newest version`, async () => {
    const processes = new Processes();
    // Retries wait 1, 2, 4 s: an update whose creation is still queued on the other worker waits for it.
    const env = serviceEnv({ RETRY_BACKOFF_BASE: '1' });
    try {
      const org = await newOrg();
      const gateways = [await processes.start('webhook-gateway', env, 'a'), await processes.start('webhook-gateway', env, 'b')];
      await processes.start('integration-worker', env, 'a');
      await processes.start('integration-worker', env, 'b');
      const entities = Array.from({ length: ENTITIES }, entityKey);
      const histories = entities.map((e) => userHistory(org.slug, e));
      const creations = histories.map((h) => h[0]!);
      const updates = histories.flatMap((h) => h.slice(1));
      const events = [...creations, ...updates];
      // Every event twice, in random order: the copies race each other through different gateways. Creations go
      // first (a provider sends an entity's creation before its updates); the updates of one entity are shuffled.
      const targets = () => gateways.map((g) => g.url);
      const stats = await stream(shuffle([...creations, ...creations]), { targets, concurrency: 16 });
      for (const id of (await stream(shuffle([...updates, ...updates]), { targets, concurrency: 16 })).accepted) stats.accepted.add(id);

      const result = await settleAndCount(org.id, stats.accepted);
      expect(verdict(result)).toEqual({ lost: [], twice: [], stored: events.length });
      const rows = await db.asSystem('fault assertion', (transaction) =>
        db.sequelize.query<{ external_id: string; last_name: string; n: number }>(
          'SELECT external_id, min(last_name) AS last_name, count(*)::int AS n FROM users WHERE org_id = $1 GROUP BY external_id',
          { bind: [org.id], type: QueryTypes.SELECT, transaction },
        ),
      );
      expect(rows.filter((r) => r.n !== 1 || r.last_name !== `v${VERSIONS - 1}`)).toEqual([]);
      expect(rows.length).toBe(ENTITIES);
      const duplicates = await db.asSystem('fault assertion', (transaction) =>
        db.sequelize.query<{ n: number }>('SELECT coalesce(sum(duplicate_count), 0)::int AS n FROM webhook_events WHERE org_id = $1', {
          bind: [org.id],
          type: QueryTypes.SELECT,
          transaction,
          plain: true,
        }),
      );
      expect((duplicates as unknown as { n: number }).n).toBe(events.length);
    } finally {
      await processes.stopAll();
    }
  });
});
