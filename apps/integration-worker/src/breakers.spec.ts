import { ServiceBreakers } from './breakers';
import { ProviderError, type ProviderAdapter } from './providers';

const request = { service: 'user_service' as const, eventId: 'evt_1', eventType: 'user.created', call: 1, payload: {} };
const config = { PROVIDER_TIMEOUT_MS: 1000, BREAKER_ERROR_THRESHOLD_PERCENT: 50, BREAKER_VOLUME_THRESHOLD: 1, BREAKER_RESET_TIMEOUT_MS: 50 };

/** A stub of the external directory: fails while `failing`, answers at once otherwise. */
class Directory implements ProviderAdapter {
  readonly service = 'user_service' as const;
  failing = true;
  calls = 0;
  async call(): Promise<void> {
    this.calls += 1;
    if (this.failing) throw new ProviderError(this.service, 'offline');
  }
}

describe('ServiceBreakers', () => {
  let breakers: ServiceBreakers | undefined;
  afterEach(() => breakers?.shutdown());

  it('when calls meet a half-open circuit together and its trial call closes it at once, then every call goes through', async () => {
    const directory = new Directory();
    const states: string[] = [];
    breakers = new ServiceBreakers(config, [directory], (_, state) => states.push(state));
    await expect(breakers.call(request)).rejects.toBeInstanceOf(ProviderError);
    expect(breakers.state('user_service')).toBe('open');
    directory.failing = false;
    // while open, calls wait; at half-open one of them is the trial, the others are refused and must not miss its close
    const calls = Array.from({ length: 5 }, () => breakers!.call(request));
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('calls still waiting')), 2000)));
    await expect(Promise.race([Promise.all(calls), stuck]).finally(() => clearTimeout(timer))).resolves.toHaveLength(5);
    expect(directory.calls).toBe(6);
    expect(states).toEqual(['open', 'half_open', 'closed']);
  });
});
