import { randomBytes } from 'node:crypto';
import { appendAudit } from '@saas/audit';
import type { SecretBox } from '@saas/auth';
import { ENDPOINT_OF_SERVICE, type IntegrationService } from '@saas/contracts';
import {
  findIntegrationSource,
  insertIntegrationSource,
  markIntegrationSourceDeleted,
  shareLockOrganization,
  storeIntegrationSourceSecret,
  updateIntegrationSourceSettings,
  type IntegrationSource,
  type Transaction,
} from '@saas/db';
import { ConflictError, NotFoundError } from '@saas/http';
import { iso } from '../integrations/resources';

/** Who changes a source, as its audit entry records them. */
export interface SourceActor {
  userId: string;
  requestId: string | null;
  ip: string | null;
}

/** A new signing secret: `whsec_` and 32 random bytes, base64 (the Standard Webhooks form). */
export const generateSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** The source as the API shows it: never a secret. */
export function toSourceResource(source: IntegrationSource) {
  return {
    id: source.id,
    org_id: source.org_id,
    service: source.service,
    name: source.name,
    status: source.status,
    endpoint: `/webhooks/${ENDPOINT_OF_SERVICE[source.service]}/${source.id}`,
    secret_rotated_at: iso(source.secret_rotated_at),
    previous_secret_expires_at: iso(source.previous_secret_expires_at),
    created_at: iso(source.created_at),
    updated_at: iso(source.updated_at),
  };
}

function auditSource(tx: Transaction, source: IntegrationSource, action: string, actor: SourceActor, metadata: Record<string, unknown>) {
  return appendAudit(tx, {
    orgId: source.org_id,
    actorType: 'user',
    actorId: actor.userId,
    action: `integration.source.${action}`,
    targetType: 'integration_source',
    targetId: source.id,
    requestId: actor.requestId,
    ip: actor.ip,
    metadata: { service: source.service, ...metadata },
  });
}

/**
 * Creates an active source for an organization with a fresh secret, audited; returns the secret this once. The
 * organization must exist and not be deleted (a suspended one may get sources: its events are refused while it is).
 */
export async function createSource(
  tx: Transaction,
  box: SecretBox,
  input: { orgId: string; service: IntegrationService; name?: string },
  actor: SourceActor,
): Promise<{ source: IntegrationSource; secret: string }> {
  const org = await shareLockOrganization(tx, input.orgId);
  if (!org) throw new NotFoundError('organization_not_found', 'Organization not found');
  if (org.status === 'deleted') throw new ConflictError('organization_deleted', 'The organization is deleted');
  const secret = generateSecret();
  const source = await insertIntegrationSource(tx, { org_id: org.id, service: input.service, name: input.name ?? input.service }, (id) => box.seal(secret, id));
  await auditSource(tx, source, 'created', actor, { name: source.name });
  return { source, secret };
}

/** A source the transaction can see and that is not deleted (else 404), locked for a change when `forUpdate`. */
export async function findSource(tx: Transaction, id: string, forUpdate = false): Promise<IntegrationSource> {
  const source = await findIntegrationSource(tx, id, forUpdate);
  if (!source || source.status === 'deleted') throw new NotFoundError('source_not_found', 'Integration source not found');
  return source;
}

/** Renames and/or disables or re-enables a source; audited with what changed. */
export async function updateSource(tx: Transaction, source: IntegrationSource, changes: { name?: string; status?: 'active' | 'disabled' }, actor: SourceActor): Promise<IntegrationSource> {
  const changed: Record<string, { from: unknown; to: unknown }> = {};
  if (changes.name !== undefined && changes.name !== source.name) changed['name'] = { from: source.name, to: changes.name };
  if (changes.status !== undefined && changes.status !== source.status) changed['status'] = { from: source.status, to: changes.status };
  if (!Object.keys(changed).length) return source;
  await updateIntegrationSourceSettings(tx, source, { ...(changed['name'] ? { name: changes.name } : {}), ...(changed['status'] ? { status: changes.status } : {}) });
  await auditSource(tx, source, 'updated', actor, { changes: changed });
  return source;
}

/**
 * A new secret; the current one keeps verifying for `overlapSeconds` (0: not at all) so the sender can switch
 * without losing a delivery. A secret older than that (an earlier rotation's) is dropped. Audited; the new secret is
 * returned this once.
 */
export async function rotateSource(
  tx: Transaction,
  box: SecretBox,
  source: IntegrationSource,
  overlapSeconds: number,
  actor: SourceActor,
): Promise<{ secret: string; previousExpiresAt: Date | null }> {
  const secret = generateSecret();
  const now = Date.now();
  const previousExpiresAt = overlapSeconds > 0 ? new Date(now + overlapSeconds * 1000) : null;
  await storeIntegrationSourceSecret(tx, source, {
    secretCiphertext: box.seal(secret, source.id),
    previousSecretCiphertext: previousExpiresAt ? source.secret_ciphertext : null,
    previousExpiresAt,
    rotatedAt: new Date(now),
  });
  await auditSource(tx, source, 'rotated', actor, { overlap_seconds: overlapSeconds, previous_secret_expires_at: iso(previousExpiresAt) });
  return { secret, previousExpiresAt };
}

/** Deletes a source: its secrets are erased, it answers 404 from now on; its events stay (they name it). Audited. */
export async function deleteSource(tx: Transaction, source: IntegrationSource, actor: SourceActor): Promise<void> {
  await markIntegrationSourceDeleted(tx, source);
  await auditSource(tx, source, 'deleted', actor, { name: source.name });
}
