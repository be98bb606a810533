import net from 'node:net';
import { returnEventsToOutbox } from '@saas/db';
import { createOrg, eventually, freePort } from '@saas/testing';
import { QueueWatcher, exampleEvent, secretOf, send, startGateway, storedEvents, type GatewayUnderTest } from './webhooks.spec-helper';

/** A TCP hop to the real RabbitMQ that the test opens and closes: "the broker" is down while it is closed. */
class BrokerProxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(readonly port: number) {}

  static async onFreePort(): Promise<BrokerProxy> {
    return new BrokerProxy(await freePort());
  }

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  async open(): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(5672, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => this.sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server) await new Promise((resolve) => this.server!.close(resolve));
    this.server = undefined;
  }
}

let orgSlug: string;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function gatewayBehindClosedBroker(proxy: BrokerProxy, overrides: Record<string, string | number> = {}): Promise<GatewayUnderTest> {
  const gw = await startGateway({ RABBITMQ_URL: proxy.url, OUTBOX_RELAY_INTERVAL_MS: 100, OUTBOX_RELAY_MIN_AGE_MS: 0, ...overrides });
  cleanups.push(() => gw.close());
  if (!orgSlug) orgSlug = (await createOrg(gw.runtime.db)).slug;
  return gw;
}

async function deliverWhileBrokerDown(gw: GatewayUnderTest): Promise<{ ids: string[]; eventIds: string[] }> {
  const secret = secretOf(gw.config, 'payment_service');
  const singles = Array.from({ length: 10 }, (_, i) => exampleEvent(i % 2 ? 'payment.failed' : 'subscription.created', orgSlug));
  const batch = Array.from({ length: 5 }, () => exampleEvent('subscription.updated', orgSlug));
  const answers = await Promise.all([
    ...singles.map((e) => send(gw.app.url, 'payment-service', e, { secret })),
    send(gw.app.url, 'payment-service', { events: batch }, { secret }),
  ]);
  expect(answers.map((a) => a.status)).toEqual(Array(11).fill(202));
  expect(answers.at(-1)?.body.accepted).toBe(5);
  const eventIds = [...singles, ...batch].map((e) => String(e['event_id']));
  const rows = await storedEvents(gw.runtime, eventIds);
  expect(rows).toHaveLength(15);
  expect(rows.every((r) => r.in_outbox && r.status === 'received')).toBe(true);
  return { ids: rows.map((r) => r.id), eventIds };
}

describe('outbox', () => {
  it('when the broker is unavailable during ingest, then requests get 202 and every accepted event reaches the queue once it is back', async () => {
    const proxy = await BrokerProxy.onFreePort();
    cleanups.push(() => proxy.close());
    const gw = await gatewayBehindClosedBroker(proxy);
    const { relay, metrics } = gw.components;
    relay.start();
    cleanups.push(() => relay.stop());

    const { ids, eventIds } = await deliverWhileBrokerDown(gw);
    await eventually(async () => ((await metrics.backlog.get()).values[0]?.value ?? 0) >= 15);

    await proxy.open();
    const watcher = await new QueueWatcher().start(gw.runtime);
    cleanups.push(() => watcher.stop());
    await eventually(async () => ids.every((id) => watcher.count(id) >= 1), 15000);
    const rows = await eventually(async () => {
      const found = await storedEvents(gw.runtime, eventIds);
      return found.every((r) => !r.in_outbox) && found;
    });
    expect(rows).toHaveLength(15);
    await new Promise((r) => setTimeout(r, 500));
    expect(ids.map((id) => watcher.count(id))).toEqual(Array(15).fill(1));
  });

  it('when an old event was put back in the outbox moments ago (a replay), then the relay waits the minimum age from that change', async () => {
    const gw = await startGateway({ OUTBOX_RELAY_MIN_AGE_MS: 5000 });
    cleanups.push(() => gw.close());
    await gw.runtime.broker.channel.waitForConnect();
    const org = await createOrg(gw.runtime.db);
    const res = await send(gw.app.url, 'user-service', exampleEvent('user.created', org.slug), { secret: secretOf(gw.config, 'user_service') });
    expect(res.status).toBe(202);
    const eventId = String(res.body.event_id);
    // the ingest path marks its own publish asynchronously: let it land first
    const row = await eventually(async () => (await storedEvents(gw.runtime, [eventId])).find((e) => !e.in_outbox));
    const outboxState = (sql: string) => gw.runtime.db.asSystem('test', (transaction) => gw.runtime.db.sequelize.query(sql, { bind: [row.id], transaction }));
    await outboxState("UPDATE webhook_events SET received_at = now() - interval '1 hour' WHERE id = $1");
    await gw.runtime.db.asSystem('test replay', (tx) => returnEventsToOutbox(tx, [row]));
    const { relay } = gw.components;
    await relay.pass();
    expect((await storedEvents(gw.runtime, [eventId]))[0].in_outbox).toBe(true);
    await outboxState("UPDATE webhook_outbox SET enqueued_at = now() - interval '1 minute' WHERE event_id = $1");
    await relay.pass();
    expect((await storedEvents(gw.runtime, [eventId]))[0].in_outbox).toBe(false);
  });

  it('when two relays run at once over the same outbox, then each unconfirmed event is published exactly once', async () => {
    const proxy = await BrokerProxy.onFreePort();
    cleanups.push(() => proxy.close());
    const down = await gatewayBehindClosedBroker(proxy);
    const { ids } = await deliverWhileBrokerDown(down);

    // Two replicas connected to the real broker, relaying the same table concurrently.
    const replicas = [await startGateway({ OUTBOX_RELAY_INTERVAL_MS: 50, OUTBOX_RELAY_MIN_AGE_MS: 0 }), await startGateway({ OUTBOX_RELAY_INTERVAL_MS: 50, OUTBOX_RELAY_MIN_AGE_MS: 0 })];
    for (const r of replicas) cleanups.push(() => r.close());
    const watcher = await new QueueWatcher().start(replicas[0].runtime);
    cleanups.push(() => watcher.stop());
    for (const r of replicas) {
      await r.runtime.broker.channel.waitForConnect();
      const { relay } = r.components;
      relay.start();
      cleanups.push(() => relay.stop());
    }
    await eventually(async () => ids.every((id) => watcher.count(id) >= 1), 15000);
    await new Promise((r) => setTimeout(r, 500));
    expect(ids.map((id) => watcher.count(id))).toEqual(Array(15).fill(1));
  });
});
