// Kept apart from webhooks.ts, which the load generator's child process loads: this one brings the data layer.
import { SecretBox } from '@saas/auth';
import type { IntegrationService } from '@saas/contracts';
import type { Database } from '@saas/db';
import { createSource } from '../../apps/webhook-gateway/src/sources/sources';

/**
 * An integration source of `orgId` for `service`, created as the API would (encrypted secret, audited): its id and its
 * secret, for deliveries to /webhooks/<endpoint>/<id>.
 */
export async function createBenchSource(db: Database, env: Record<string, string | undefined>, orgId: string, service: IntegrationService): Promise<{ id: string; secret: string }> {
  const box = new SecretBox(String(env['INTEGRATION_SECRETS_KEY']));
  const actor = { userId: 'bench', requestId: null, ip: null };
  const { source, secret } = await db.forOrg(orgId, (tx) => createSource(tx, box, { orgId, service, name: 'bench' }, actor));
  return { id: source.id, secret };
}
