import { EventEmitter } from 'node:events';
import amqp, { type AmqpConnectionManager } from 'amqp-connection-manager';
import pino from 'pino';
import { connectBroker, nodeAddress } from './connection';

const topology = { prefix: 'unit.', maxRetries: 1, backoffBase: 1, deliveryLimit: 5 };

/** A connection manager that never dials: the test plays its events. */
function fakeManager(): AmqpConnectionManager & EventEmitter {
  const manager = new EventEmitter() as AmqpConnectionManager & EventEmitter;
  Object.assign(manager, {
    createChannel: () => Object.assign(new EventEmitter(), { close: async () => undefined }),
    isConnected: () => false,
    close: async () => undefined,
  });
  return manager;
}

afterEach(() => jest.restoreAllMocks());

describe('connectBroker', () => {
  it('when RABBITMQ_URL lists the nodes of a cluster, then the connection manager gets every node URL, in order', () => {
    const connect = jest.spyOn(amqp, 'connect').mockReturnValue(fakeManager());
    connectBroker({ ...topology, url: 'amqp://app:s3cret@rabbit-0:5672,amqp://app:s3cret@rabbit-1:5672, amqp://app:s3cret@rabbit-2:5672', logger: pino({ level: 'silent' }) });
    expect(connect.mock.calls[0]![0]).toEqual(['amqp://app:s3cret@rabbit-0:5672', 'amqp://app:s3cret@rabbit-1:5672', 'amqp://app:s3cret@rabbit-2:5672']);
  });

  it('when it connects, fails over and loses the broker, then connectedNode names the node as host:port only, and null while disconnected', () => {
    const manager = fakeManager();
    jest.spyOn(amqp, 'connect').mockReturnValue(manager);
    const broker = connectBroker({ ...topology, url: 'amqp://app:s3cret@rabbit-0,amqps://app:s3cret@rabbit-1/tenant', logger: pino({ level: 'silent' }) });
    expect(broker.connectedNode()).toBeNull();
    manager.emit('connect', { url: 'amqp://app:s3cret@rabbit-0' });
    expect(broker.connectedNode()).toBe('rabbit-0:5672');
    manager.emit('disconnect', { err: new Error('CONNECTION_FORCED') });
    expect(broker.connectedNode()).toBeNull();
    manager.emit('connect', { url: 'amqps://app:s3cret@rabbit-1/tenant' });
    expect(broker.connectedNode()).toBe('rabbit-1:5671');
  });
});

describe('nodeAddress', () => {
  it('when a node URL carries credentials, a vhost and query options, then only host and port are shown', () => {
    expect(nodeAddress('amqp://user:p%40ss@10.0.0.7:5673/%2Fprod?heartbeat=5')).toBe('10.0.0.7:5673');
    expect(nodeAddress('amqp://user:pass@rabbit.example')).toBe('rabbit.example:5672');
  });
});
