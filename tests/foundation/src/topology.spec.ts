import amqplib from 'amqplib';
import { retryDelayMs } from '@saas/config';
import { declareTopology, queueProbe, RETRY_DELAY_HEADER, routingKey, topologyNames } from '@saas/messaging';

const url = process.env['RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
const options = { prefix: `${process.env['RABBITMQ_NAME_PREFIX']}topo.`, maxRetries: 3, backoffBase: 0.1, deliveryLimit: 5 };

let connection: amqplib.ChannelModel;
let channel: amqplib.Channel;
beforeAll(async () => {
  connection = await amqplib.connect(url);
  channel = await connection.createChannel();
});
afterAll(async () => {
  const names = topologyNames(options);
  for (const q of [names.deadLetterQueue, ...names.retryDelays.map(names.retryQueue), ...(['user_service', 'payment_service', 'communication_service'] as const).map(names.serviceQueue)]) {
    await channel.deleteQueue(q);
  }
  for (const e of [names.eventsExchange, names.deadLetterExchange, names.retryExchange]) await channel.deleteExchange(e);
  await connection.close();
});

async function nextMessage(queue: string, timeoutMs = 5000): Promise<amqplib.GetMessage> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const message = await channel.get(queue, { noAck: true });
    if (message) return message;
    if (Date.now() > deadline) throw new Error(`nothing arrived on ${queue}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('RabbitMQ topology (docs/MESSAGING.md "Topology")', () => {
  it('when it is declared twice, then the second declaration is a no-op', async () => {
    await declareTopology(channel, options);
    await expect(declareTopology(channel, options)).resolves.toBeDefined();
  });

  it('when the queues were created without a quorum group size, then the services\' declaration with one and a probe leaves them as they are and creates the missing one', async () => {
    const names = topologyNames(options);
    await declareTopology(channel, options);
    await channel.deleteQueue(names.deadLetterQueue);
    await expect(declareTopology(channel, { ...options, quorumGroupSize: 3 }, queueProbe(connection))).resolves.toBeDefined();
    await expect(channel.checkQueue(names.deadLetterQueue)).resolves.toMatchObject({ queue: names.deadLetterQueue });
  });

  it('when an event is published, then only its service queue receives it', async () => {
    const names = topologyNames(options);
    channel.publish(names.eventsExchange, routingKey('payment_service', 'payment.failed'), Buffer.from('{"n":1}'), { persistent: true });
    const message = await nextMessage(names.serviceQueue('payment_service'));
    expect(message.fields.routingKey).toBe('payment_service.payment.failed');
    expect(await channel.get(names.serviceQueue('user_service'))).toBe(false);
  });

  it('when a message is sent to the retry exchange with a delay, then it returns to its service queue after that delay with its routing key', async () => {
    const names = topologyNames(options);
    const delay = retryDelayMs(options.backoffBase, 2);
    expect(names.retryDelays).toEqual([100, 200, 400]);
    const sentAt = Date.now();
    channel.publish(names.retryExchange, routingKey('user_service', 'user.created'), Buffer.from('{"n":2}'), {
      persistent: true,
      headers: { [RETRY_DELAY_HEADER]: delay, 'x-retry-attempt': 2 },
    });
    const message = await nextMessage(names.serviceQueue('user_service'));
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(delay - 20);
    expect(message.fields.routingKey).toBe('user_service.user.created');
    expect(message.properties.headers?.['x-retry-attempt']).toBe(2);
    // exactly one delay queue took it: no second copy comes back from another rung of the ladder
    await new Promise((r) => setTimeout(r, 500));
    expect(await channel.get(names.serviceQueue('user_service'))).toBe(false);
  });

  it('when a message is dead-lettered, then it lands in the dead-letter queue', async () => {
    const names = topologyNames(options);
    channel.publish(names.deadLetterExchange, routingKey('communication_service', 'message.bounced'), Buffer.from('{}'), { persistent: true });
    const message = await nextMessage(names.deadLetterQueue);
    expect(message.fields.routingKey).toBe('communication_service.message.bounced');
  });
});
