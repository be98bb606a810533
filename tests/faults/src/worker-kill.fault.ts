import { Processes, db, mixedEvents, newOrg, serviceEnv, settleAndCount, stream, verdict } from './support';

const EVENTS = Number(process.env['FAULT_EVENTS'] ?? 10000);

afterAll(() => db.close());

describe('fault: the worker is killed mid-stream', () => {
  it(`when the worker is SIGKILLed while ${EVENTS} signed events stream in and is then restarted, then every 202'd event is processed exactly once`, async () => {
    const processes = new Processes();
    const env = serviceEnv();
    try {
      const org = await newOrg();
      const gateway = await processes.start('webhook-gateway', env);
      let worker = await processes.start('integration-worker', env);
      let killed: Promise<void> | undefined;
      const stats = await stream(mixedEvents(org.slug, EVENTS), {
        targets: () => [gateway.url],
        concurrency: 8,
        batch: 10,
        onAccepted: (n) => {
          if (n < EVENTS / 3 || killed) return;
          killed = (async () => {
            await worker.kill();
            worker = await processes.start('integration-worker', env, 'restarted');
          })();
        },
      });
      await killed;
      expect(worker.child.exitCode).toBeNull();
      const result = await settleAndCount(org.id, stats.accepted);
      expect(verdict(result)).toEqual({ lost: [], twice: [], stored: EVENTS });
    } finally {
      await processes.stopAll();
    }
  });
});
