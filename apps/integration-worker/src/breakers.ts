import CircuitBreaker from 'opossum';
import type { WorkerConfigPart } from '@saas/config';
import type { CircuitState, IntegrationService } from '@saas/messaging';
import type { ProviderAdapter, ProviderRequest } from './providers';

/** The worker is stopping: a delivery waiting for its circuit goes back to the queue untouched. */
export class ShuttingDownError extends Error {
  constructor() {
    super('worker is shutting down');
    this.name = 'ShuttingDownError';
  }
}

type BreakerConfig = Pick<WorkerConfigPart, 'PROVIDER_TIMEOUT_MS' | 'BREAKER_ERROR_THRESHOLD_PERCENT' | 'BREAKER_VOLUME_THRESHOLD' | 'BREAKER_RESET_TIMEOUT_MS'>;

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * One opossum circuit breaker per provider. A call that meets an open circuit does not fail the event: it waits
 * for the circuit to half-open (or close) and tries again, so no attempt is spent and the delivery stays unacked
 * (the consumer is paused meanwhile, so nothing else is taken from that queue).
 */
export class ServiceBreakers {
  private readonly breakers = new Map<IntegrationService, CircuitBreaker<[ProviderRequest], void>>();
  private readonly waiters = new Map<IntegrationService, Set<Waiter>>();
  private stopped = false;

  constructor(config: BreakerConfig, providers: ProviderAdapter[], onStateChange: (service: IntegrationService, state: CircuitState) => void) {
    for (const provider of providers) {
      const breaker = new CircuitBreaker((request: ProviderRequest) => provider.call(request), {
        timeout: config.PROVIDER_TIMEOUT_MS,
        errorThresholdPercentage: config.BREAKER_ERROR_THRESHOLD_PERCENT,
        volumeThreshold: config.BREAKER_VOLUME_THRESHOLD,
        resetTimeout: config.BREAKER_RESET_TIMEOUT_MS,
        name: provider.service,
      });
      const waiters = new Set<Waiter>();
      const wake = () => {
        for (const waiter of waiters) waiter.resolve();
        waiters.clear();
      };
      breaker.on('open', () => onStateChange(provider.service, 'open'));
      breaker.on('halfOpen', () => {
        onStateChange(provider.service, 'half_open');
        wake();
      });
      breaker.on('close', () => {
        onStateChange(provider.service, 'closed');
        wake();
      });
      this.breakers.set(provider.service, breaker);
      this.waiters.set(provider.service, waiters);
    }
  }

  state(service: IntegrationService): CircuitState {
    const breaker = this.get(service);
    return breaker.opened ? 'open' : breaker.halfOpen ? 'half_open' : 'closed';
  }

  /** Calls the provider through its breaker; while the circuit is open, waits for it instead of failing. */
  async call(request: ProviderRequest): Promise<void> {
    const breaker = this.get(request.service);
    for (;;) {
      if (this.stopped) throw new ShuttingDownError();
      try {
        return await breaker.fire(request);
      } catch (err) {
        if ((err as { code?: string }).code !== 'EOPENBREAKER') throw err;
        // The refusal reaches us a few microtasks late: the circuit may have closed (or half-opened, a trial call
        // free) meanwhile, and that event woke only the calls already waiting. Check, then wait in the same turn.
        if (breaker.closed || breaker.pendingClose) continue;
        const waiters = this.waiters.get(request.service);
        await new Promise<void>((resolve, reject) => waiters?.add({ resolve, reject }));
      }
    }
  }

  /** Releases waiting calls (they requeue their deliveries) and stops the breakers' timers. */
  shutdown(): void {
    this.stopped = true;
    for (const [service, waiters] of this.waiters) {
      for (const waiter of waiters) waiter.reject(new ShuttingDownError());
      waiters.clear();
      this.get(service).shutdown();
    }
  }

  private get(service: IntegrationService): CircuitBreaker<[ProviderRequest], void> {
    const breaker = this.breakers.get(service);
    if (!breaker) throw new Error(`no provider for ${service}`);
    return breaker;
  }
}
