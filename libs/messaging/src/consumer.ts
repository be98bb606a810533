import type { ChannelWrapper } from 'amqp-connection-manager';
import type { ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';

/** What to do with a delivery once its handler has finished. */
export type Disposition = 'ack' | 'requeue';

export interface QueueConsumerOptions {
  channel: ChannelWrapper;
  queue: string;
  /** Unacknowledged deliveries this consumer holds at most (per consumer, not per channel). */
  prefetch: number;
  logger: Logger;
  handler: (message: ConsumeMessage) => Promise<Disposition>;
}

/**
 * One manually-acknowledged consumer of one queue, which can be paused (cancelled: messages wait durably in the
 * queue) and resumed. The channel wrapper re-establishes it after a reconnection; deliveries received on a channel
 * that has since closed are not acknowledged (the broker redelivers them).
 */
export class QueueConsumer {
  private consumerTag: string | null = null;
  private transition: Promise<void> = Promise.resolve();
  private generation = 0;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: QueueConsumerOptions) {
    // Setups run on every new underlying channel (after a reconnection, maybe to another node) before the consumers
    // are re-established there: a delivery tag of an earlier channel means nothing on it (acking one makes the
    // broker close the channel with PRECONDITION_FAILED), and the broker redelivers those messages anyway.
    void options.channel.addSetup(async () => {
      this.generation += 1;
    });
  }

  get consuming(): boolean {
    return this.consumerTag !== null;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Starts (or resumes) consuming; a no-op while already consuming. */
  resume(): Promise<void> {
    return this.serialize(async () => {
      if (this.consumerTag) return;
      const { consumerTag } = await this.options.channel.consume(this.options.queue, (message) => this.dispatch(message), {
        noAck: false,
        prefetch: this.options.prefetch,
      });
      this.consumerTag = consumerTag;
      this.options.logger.info({ queue: this.options.queue }, 'consumer started');
    });
  }

  /** Stops receiving new deliveries; in-flight ones still finish. */
  pause(): Promise<void> {
    return this.serialize(async () => {
      const tag = this.consumerTag;
      if (!tag) return;
      this.consumerTag = null;
      await this.options.channel.cancel(tag);
      this.options.logger.info({ queue: this.options.queue }, 'consumer paused');
    });
  }

  /** Pauses, then waits for the deliveries being handled (graceful shutdown). */
  async drain(): Promise<void> {
    await this.pause().catch((err) => this.options.logger.warn({ err, queue: this.options.queue }, 'consumer cancel failed'));
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  private serialize(step: () => Promise<void>): Promise<void> {
    this.transition = this.transition.catch(() => undefined).then(step);
    return this.transition;
  }

  private dispatch(message: ConsumeMessage): void {
    const generation = this.generation;
    const settle = (disposition: Disposition) => {
      if (generation !== this.generation) return;
      if (disposition === 'ack') this.options.channel.ack(message);
      else this.options.channel.nack(message, false, true);
    };
    const work = this.options
      .handler(message)
      .then(settle, (err) => {
        this.options.logger.error({ err, queue: this.options.queue, message_id: message.properties.messageId }, 'handler failed; requeued');
        settle('requeue');
      })
      .finally(() => this.inFlight.delete(work));
    this.inFlight.add(work);
  }
}
