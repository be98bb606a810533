import type { WorkerConfigPart } from '@saas/config';
import type { IntegrationService } from '@saas/messaging';
import { TransientSyncError } from './errors';

/** What the worker asks a provider about one event before syncing it. */
export interface ProviderRequest {
  service: IntegrationService;
  eventId: string;
  eventType: string;
  /** 1-based: how many times this event has been sent to its provider, this call included. */
  call: number;
  payload: Record<string, unknown>;
}

/** The seam a real provider client replaces: confirms (or enriches) an event with the external system. */
export interface ProviderAdapter {
  readonly service: IntegrationService;
  call(request: ProviderRequest): Promise<void>;
}

export class ProviderError extends TransientSyncError {
  constructor(service: IntegrationService, detail: string) {
    super(`${service} provider error: ${detail}`);
    this.name = 'ProviderError';
  }
}

type SimulationConfig = Pick<WorkerConfigPart, 'FORCE_SERVICE_FAILURES' | 'ENABLE_RANDOM_FAILURES' | 'RANDOM_FAILURE_RATE' | 'SIMULATED_PROVIDER_LATENCY_MS'>;

/**
 * A simulated external system. Failures are deterministic per event: the first FORCE_SERVICE_FAILURES calls for an
 * event fail (the call number comes from the event's stored attempt count, so it survives restarts); random
 * failures, when enabled, fail a call with RANDOM_FAILURE_RATE.
 */
export class SimulatedProvider implements ProviderAdapter {
  constructor(
    readonly service: IntegrationService,
    private readonly config: SimulationConfig,
    private readonly random: () => number = Math.random,
  ) {}

  async call(request: ProviderRequest): Promise<void> {
    if (this.config.SIMULATED_PROVIDER_LATENCY_MS > 0) await new Promise((r) => setTimeout(r, this.config.SIMULATED_PROVIDER_LATENCY_MS));
    if (request.call <= this.config.FORCE_SERVICE_FAILURES) {
      throw new ProviderError(this.service, `simulated failure ${request.call} of ${this.config.FORCE_SERVICE_FAILURES}`);
    }
    if (this.config.ENABLE_RANDOM_FAILURES && this.random() < this.config.RANDOM_FAILURE_RATE) {
      throw new ProviderError(this.service, 'simulated random failure');
    }
  }
}
