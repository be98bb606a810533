import { readdirSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { eventually } from '@saas/testing';
import { Processes, db, mixedEvents, newOrg, outcomes, serviceEnv, settleAndCount, sh, stream, verdict } from './support';

const EVENTS = Number(process.env['FAULT_EVENTS'] ?? 3000);
const CLUSTER = readdirSync('/etc/postgresql')[0]!;

afterAll(() => db.close());

/** STACK.md's start command; a no-op error when it already runs. */
function ensurePostgresRunning(): void {
  try {
    sh('pg_ctlcluster', ['--skip-systemctl-redirect', CLUSTER, 'main', 'start']);
  } catch {
    /* already running */
  }
}

describe('fault: PostgreSQL restarts while the worker processes (restarts the shared database: run alone)', () => {
  it(`when PostgreSQL restarts while the worker works through ${EVENTS} events, then every 202'd event is processed exactly once`, async () => {
    const processes = new Processes();
    // Slow provider calls keep the worker busy long enough for the restart to land mid-processing.
    const env = serviceEnv({ SIMULATED_PROVIDER_LATENCY_MS: '20' });
    try {
      const org = await newOrg();
      const gateway = await processes.start('webhook-gateway', env);
      await processes.start('integration-worker', env);
      const stats = await stream(mixedEvents(org.slug, EVENTS), { targets: () => [gateway.url], concurrency: 8, batch: 25 });
      // Restart once some, but not all, of the backlog is processed.
      await eventually(async () => (await outcomes(org.id)).filter((r) => r.status === 'processed').length > EVENTS / 10, 120000, 200);
      sh('pg_ctlcluster', ['--skip-systemctl-redirect', '-m', 'fast', CLUSTER, 'main', 'restart']);
      await delay(2000);
      expect(verdict(await settleAndCount(org.id, stats.accepted))).toEqual({ lost: [], twice: [], stored: EVENTS });
    } finally {
      ensurePostgresRunning();
      await processes.stopAll();
    }
  });
});
