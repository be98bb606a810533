import amqp, { type AmqpConnectionManager, type ChannelWrapper } from 'amqp-connection-manager';
import type { ConfirmChannel } from 'amqplib';
import type { Logger } from 'pino';
import { brokerUrls } from '@saas/config';
import { declareTopology, queueProbe, topologyNames, type TopologyNames, type TopologyOptions } from './topology';

export interface BrokerOptions extends TopologyOptions {
  /** RABBITMQ_URL: one node's URL, or the node URLs of one cluster, comma-separated. */
  url: string;
  logger: Logger;
  /** Runs on every (re)connected channel after the topology is declared, e.g. to start consumers. */
  setup?: (channel: ConfirmChannel, names: TopologyNames) => Promise<void>;
}

export interface Broker {
  connection: AmqpConnectionManager;
  /** A confirm channel: `publish` resolves once the broker has the message. Reconnects by itself. */
  channel: ChannelWrapper;
  names: TopologyNames;
  isConnected(): boolean;
  /** `host:port` of the node this process is connected to, null while disconnected. */
  connectedNode(): string | null;
  close(): Promise<void>;
}

/** A node URL as it may be shown (logs, readiness, metrics): host and port, never credentials. */
export function nodeAddress(url: string): string {
  const { hostname, port, protocol } = new URL(url);
  return `${hostname}:${port || (protocol === 'amqps:' ? '5671' : '5672')}`;
}

/**
 * Connects to a node of the list (with automatic reconnection, to the next node of the list each time, so a dead
 * node is left for a live one) and declares the topology on every (re)connection.
 */
export function connectBroker(options: BrokerOptions): Broker {
  const connection = amqp.connect(brokerUrls(options.url), { heartbeatIntervalInSeconds: 15, reconnectTimeInSeconds: 1 });
  let node: string | null = null;
  const addressOf = (url: unknown) => (typeof url === 'string' ? nodeAddress(url) : 'unknown');
  connection.on('connect', ({ url }) => {
    node = addressOf(url);
    options.logger.info({ node }, 'rabbitmq connected');
  });
  connection.on('disconnect', ({ err }) => {
    options.logger.warn({ node, err: err?.message }, 'rabbitmq disconnected');
    node = null;
  });
  connection.on('connectFailed', ({ err, url }) => options.logger.warn({ node: addressOf(url), err: err?.message }, 'rabbitmq connection failed'));
  // Names are pure functions of the options, known before the first connection completes.
  const names = topologyNames(options);
  const channel = connection.createChannel({
    json: false,
    confirm: true,
    setup: async (ch: ConfirmChannel) => {
      const current = connection.connection;
      if (!current) throw new Error('rabbitmq connection lost during channel setup');
      await declareTopology(ch, options, queueProbe(current));
      await options.setup?.(ch, names);
    },
  });
  // A setup that fails (or is cut short by close()) is retried on the next connection; it must never crash the process.
  channel.on('error', (err: Error) => options.logger.warn({ err: err.message }, 'rabbitmq channel error'));
  return {
    connection,
    channel,
    names,
    isConnected: () => connection.isConnected(),
    connectedNode: () => node,
    close: async () => {
      await channel.close();
      await connection.close();
    },
  };
}
