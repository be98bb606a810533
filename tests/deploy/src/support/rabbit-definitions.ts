import type { Channel } from 'amqplib';
import { declareTopology, type TopologyOptions } from '@saas/messaging';

export interface Definitions {
  exchanges: { name: string; vhost: string; type: string; durable: boolean; auto_delete: boolean; internal: boolean; arguments: Record<string, unknown> }[];
  queues: { name: string; vhost: string; durable: boolean; auto_delete: boolean; arguments: Record<string, unknown> }[];
  bindings: { source: string; vhost: string; destination: string; destination_type: 'queue'; routing_key: string; arguments: Record<string, unknown> }[];
}

/**
 * The RabbitMQ definitions (management API / load_definitions format) of exactly what the services declare at
 * start: declareTopology runs against a channel that writes the declarations down instead of sending them.
 */
export async function definitionsOf(options: TopologyOptions, vhost = '/'): Promise<Definitions> {
  const defs: Definitions = { exchanges: [], queues: [], bindings: [] };
  const recorder = {
    assertExchange: async (name: string, type: string, opts: { durable?: boolean; autoDelete?: boolean; internal?: boolean; arguments?: Record<string, unknown> } = {}) => {
      defs.exchanges.push({ name, vhost, type, durable: opts.durable ?? true, auto_delete: opts.autoDelete ?? false, internal: opts.internal ?? false, arguments: opts.arguments ?? {} });
      return { exchange: name };
    },
    assertQueue: async (name: string, opts: { durable?: boolean; autoDelete?: boolean; arguments?: Record<string, unknown> } = {}) => {
      defs.queues.push({ name, vhost, durable: opts.durable ?? true, auto_delete: opts.autoDelete ?? false, arguments: opts.arguments ?? {} });
      return { queue: name, messageCount: 0, consumerCount: 0 };
    },
    bindQueue: async (destination: string, source: string, routingKey: string, args: Record<string, unknown> = {}) => {
      defs.bindings.push({ source, vhost, destination, destination_type: 'queue', routing_key: routingKey, arguments: args });
      return {};
    },
  };
  await declareTopology(recorder as unknown as Channel, options);
  return defs;
}
