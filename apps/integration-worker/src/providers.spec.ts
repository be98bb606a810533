import { ProviderError, SimulatedProvider } from './providers';

const request = (call: number) => ({ service: 'payment_service' as const, eventId: 'evt_1', eventType: 'payment.failed', call, payload: {} });
const simulation = { FORCE_SERVICE_FAILURES: 0, ENABLE_RANDOM_FAILURES: false, RANDOM_FAILURE_RATE: 0.5, SIMULATED_PROVIDER_LATENCY_MS: 0 };

describe('simulated provider', () => {
  it('when FORCE_SERVICE_FAILURES=2, then the first two calls for an event fail and the third succeeds', async () => {
    const provider = new SimulatedProvider('payment_service', { ...simulation, FORCE_SERVICE_FAILURES: 2 });
    await expect(provider.call(request(1))).rejects.toBeInstanceOf(ProviderError);
    await expect(provider.call(request(2))).rejects.toThrow(/simulated failure 2 of 2/);
    await expect(provider.call(request(3))).resolves.toBeUndefined();
  });

  it('when random failures are enabled, then a call fails exactly when the draw is below RANDOM_FAILURE_RATE', async () => {
    const draws = [0.49, 0.5, 0.1];
    const provider = new SimulatedProvider('payment_service', { ...simulation, ENABLE_RANDOM_FAILURES: true }, () => draws.shift()!);
    await expect(provider.call(request(1))).rejects.toThrow(/random failure/);
    await expect(provider.call(request(1))).resolves.toBeUndefined();
    await expect(provider.call(request(1))).rejects.toThrow(/random failure/);
  });

  it('when SIMULATED_PROVIDER_LATENCY_MS is set, then each call takes at least that long', async () => {
    const provider = new SimulatedProvider('payment_service', { ...simulation, SIMULATED_PROVIDER_LATENCY_MS: 60 });
    const started = Date.now();
    await provider.call(request(1));
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
  });
});
