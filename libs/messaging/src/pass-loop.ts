import type { Logger } from 'pino';

/**
 * Runs a relay's passes one after another until stopped: at once again while a pass says more is waiting (it
 * filled a batch), after `intervalMs` otherwise or when a pass failed (logged; the next pass tries again).
 */
export class PassLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly name: string,
    private readonly pass: () => Promise<boolean>,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops scheduling and waits for the pass under way, if any. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.pass()
        .then((more) => this.schedule(more ? 0 : this.intervalMs))
        .catch((err) => {
          this.logger.warn({ err }, `${this.name} pass failed`);
          this.schedule(this.intervalMs);
        });
    }, delayMs);
  }
}
