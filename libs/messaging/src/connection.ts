import amqp, { type AmqpConnectionManager, type ChannelWrapper } from 'amqp-connection-manager';
import type { ConfirmChannel } from 'amqplib';
import type { Logger } from 'pino';
import { declareTopology, topologyNames, type TopologyNames, type TopologyOptions } from './topology';

export interface BrokerOptions extends TopologyOptions {
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
  close(): Promise<void>;
}

/** Connects (with automatic reconnection) and declares the topology on every (re)connection. */
export function connectBroker(options: BrokerOptions): Broker {
  const connection = amqp.connect([options.url], { heartbeatIntervalInSeconds: 15, reconnectTimeInSeconds: 1 });
  connection.on('connect', () => options.logger.info('rabbitmq connected'));
  connection.on('disconnect', ({ err }) => options.logger.warn({ err: err?.message }, 'rabbitmq disconnected'));
  connection.on('connectFailed', ({ err }) => options.logger.warn({ err: err?.message }, 'rabbitmq connection failed'));
  // Names are pure functions of the options, known before the first connection completes.
  const names = topologyNames(options);
  const channel = connection.createChannel({
    json: false,
    confirm: true,
    setup: async (ch: ConfirmChannel) => {
      await declareTopology(ch, options);
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
    close: async () => {
      await channel.close();
      await connection.close();
    },
  };
}
