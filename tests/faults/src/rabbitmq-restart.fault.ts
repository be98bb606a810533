import { setTimeout as delay } from 'node:timers/promises';
import { Processes, db, mixedEvents, newOrg, serviceEnv, settleAndCount, sh, stream, verdict } from './support';

const EVENTS = Number(process.env['FAULT_EVENTS'] ?? 3000);

afterAll(() => db.close());

/** STACK.md: the machine's RabbitMQ. The application is stopped and started; the node (and its disk) stays. */
function ensureRabbitRunning(): void {
  try {
    sh('rabbitmqctl', ['-q', 'start_app']);
  } catch {
    sh('rabbitmq-server', ['-detached']);
  }
  sh('rabbitmqctl', ['-q', 'await_startup']);
}

describe('fault: RabbitMQ restarts during ingest (stops the shared broker: run alone)', () => {
  it(`when RabbitMQ restarts while ${EVENTS} events stream in, then ingestion keeps answering 202 and every 202'd event is processed exactly once`, async () => {
    const processes = new Processes();
    const env = serviceEnv();
    try {
      const org = await newOrg();
      const gateway = await processes.start('webhook-gateway', env);
      await processes.start('integration-worker', env);
      let outage: Promise<void> | undefined;
      const stats = await stream(mixedEvents(org.slug, EVENTS), {
        targets: () => [gateway.url],
        concurrency: 8,
        batch: 5,
        onAccepted: (n) => {
          if (n < EVENTS / 3 || outage) return;
          outage = (async () => {
            sh('rabbitmqctl', ['-q', 'stop_app']);
            await delay(5000);
            ensureRabbitRunning();
          })();
        },
      });
      await outage;
      // 202 means committed in PostgreSQL: the broker being away never turns into an error for the provider.
      expect(Object.keys(stats.answers)).toEqual(['202']);
      expect(verdict(await settleAndCount(org.id, stats.accepted))).toEqual({ lost: [], twice: [], stored: EVENTS });
    } finally {
      ensureRabbitRunning();
      await processes.stopAll();
    }
  });
});
