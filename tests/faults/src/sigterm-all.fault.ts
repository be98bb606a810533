import { Processes, db, mixedEvents, newOrg, serviceEnv, settleAndCount, stream, verdict, type ServiceProcess } from './support';

const EVENTS = Number(process.env['FAULT_SIGTERM_EVENTS'] ?? 3000);
/** Deliveries in flight at once, each on a connection of its own (the providers do not keep connections alive). */
const CONCURRENCY = 24;

afterAll(() => db.close());

/** The four services wired as `npm start` wires them; webhooks reach webhook-gateway through api-gateway. */
async function startAll(processes: Processes, env: Record<string, string>, instance?: string) {
  const [identity, webhooks, worker] = await Promise.all([
    processes.start('identity-service', env, instance),
    processes.start('webhook-gateway', env, instance),
    processes.start('integration-worker', env, instance),
  ]);
  const gateway = await processes.start(
    'api-gateway',
    { ...env, IDENTITY_SERVICE_URL: identity.url, WEBHOOK_GATEWAY_URL: webhooks.url, INTEGRATION_WORKER_URL: worker.url },
    instance,
  );
  return [gateway, identity, webhooks, worker];
}

describe('fault: SIGTERM to every service under load', () => {
  it(`when every service gets SIGTERM while ${EVENTS} events stream through api-gateway, then each exits 0 after finishing its in-flight work (none cut: no aborted request in any access log), none answers 500, and after a restart every 202'd event is processed exactly once`, async () => {
    const processes = new Processes();
    const env = serviceEnv();
    try {
      const org = await newOrg();
      let services: ServiceProcess[] = await startAll(processes, env);
      let gatewayUrl: string | null = services[0]!.url;
      let cycle: Promise<(number | null)[]> | undefined;
      const stats = await stream(mixedEvents(org.slug, EVENTS), {
        // While the services are down the "providers" keep retrying against the last address (refused), then the new one.
        targets: () => [gatewayUrl ?? services[0]!.url],
        concurrency: CONCURRENCY,
        onAccepted: (n) => {
          if (n < EVENTS / 3 || cycle) return;
          cycle = (async () => {
            const stopping = services;
            await Promise.all(stopping.map((s) => s.stop(30000)));
            const codes = stopping.map((s) => s.child.exitCode);
            services = await startAll(processes, env, 'restarted');
            gatewayUrl = services[0]!.url;
            return codes;
          })();
        },
      });
      const exitCodes = await cycle;
      expect(exitCodes).toEqual([0, 0, 0, 0]);
      expect(stats.answers[500] ?? 0).toBe(0);
      // A connection still in the kernel's accept queue when a listener closes is reset by TCP without reaching the
      // app, and the provider retries it: under load several can wait there (9 were seen), at most one per delivery
      // in flight. A request cut while being handled is another matter: the service that began it logs it as
      // aborted, and none may be.
      expect(stats.resets).toBeLessThanOrEqual(CONCURRENCY);
      expect(verdict(await settleAndCount(org.id, stats.accepted))).toEqual({ lost: [], twice: [], stored: EVENTS });
      // stopped first: a running process may still hold its last log lines in its buffer
      await processes.stopAll();
      expect(processes.abortedRequests()).toBe(0);
    } finally {
      await processes.stopAll();
    }
  });
});
