import { Op, type WhereOptions } from 'sequelize';
import type { IntegrationService } from '@saas/contracts';
import type { Database, Transaction } from '../database';
import { IntegrationSource, type OrgStatus, type SourceStatus } from '../models';
import { sql } from '../one-trip';
import { afterKeyset, keysetAttribute, type KeysetCursor } from '../pagination';

// The integration_sources table (migration 0010): webhook-gateway's source management API and the source lookup of
// its webhook hot path. Secrets arrive and leave as ciphertexts; sealing and opening them is the caller's.

/** An active source with its organization, as the webhook hot path verifies and routes a delivery by it. */
export interface ActiveSourceRow {
  id: string;
  org_id: string;
  service: IntegrationService;
  secret_ciphertext: string;
  previous_secret_ciphertext: string | null;
  previous_secret_expires_at: Date | null;
  org_slug: string;
  org_status: OrgStatus;
}

/**
 * The active source `id` (a uuid, checked by the caller) with its organization's slug and status, or undefined
 * (unknown, disabled or deleted). The source id is all an unauthenticated delivery names: resolving it is platform
 * work across organizations, one round trip.
 */
export async function findActiveSourceWithOrg(db: Database, id: string): Promise<ActiveSourceRow | undefined> {
  const [row] = await db.readAsSystem<ActiveSourceRow>(
    'webhook: resolve a source',
    sql`SELECT s.id, s.org_id, s.service, s.secret_ciphertext, s.previous_secret_ciphertext, s.previous_secret_expires_at,
                 o.slug AS org_slug, o.status AS org_status
            FROM integration_sources s JOIN organizations o ON o.id = s.org_id
           WHERE s.id = ${id} AND s.status = 'active'`,
  );
  return row;
}

/**
 * Inserts an active source. Its secret is sealed for its id, which exists only once the row is built:
 * `secretCiphertextFor` gets the new id and returns the ciphertext stored with the row.
 */
export async function insertIntegrationSource(
  tx: Transaction,
  values: { org_id: string; service: IntegrationService; name: string },
  secretCiphertextFor: (sourceId: string) => string,
): Promise<IntegrationSource> {
  const source = IntegrationSource.build({ org_id: values.org_id, service: values.service, name: values.name, status: 'active' });
  source.secret_ciphertext = secretCiphertextFor(source.id);
  await source.save({ transaction: tx });
  return source;
}

/** The source `id` if the transaction can see it (deleted ones too), locked for a change when `forUpdate`. */
export function findIntegrationSource(tx: Transaction, id: string, forUpdate = false): Promise<IntegrationSource | null> {
  return IntegrationSource.findByPk(id, { transaction: tx, ...(forUpdate ? { lock: tx.LOCK.UPDATE } : {}) });
}

export interface IntegrationSourceListQuery {
  orgScope: string | null;
  service?: IntegrationService;
  status?: Exclude<SourceStatus, 'deleted'>;
  limit: number;
  cursor?: KeysetCursor;
}

/** Sources newest first (deleted ones are gone from lists); `limit + 1` rows with `cursor_ts`, for `pageOf`. */
export function listIntegrationSources(tx: Transaction, query: IntegrationSourceListQuery): Promise<IntegrationSource[]> {
  const where: WhereOptions = {
    ...(query.orgScope ? { org_id: query.orgScope } : {}),
    ...(query.service ? { service: query.service } : {}),
    status: query.status ?? { [Op.ne]: 'deleted' },
    [Op.and]: afterKeyset('created_at', query.cursor),
  };
  return IntegrationSource.findAll({
    where,
    attributes: { include: [keysetAttribute('created_at')] },
    order: [['created_at', 'DESC'], ['id', 'DESC']],
    limit: query.limit + 1,
    transaction: tx,
  });
}

/** Stores a rename and/or a disable or re-enable (only the fields given). */
export async function updateIntegrationSourceSettings(tx: Transaction, source: IntegrationSource, changes: { name?: string; status?: 'active' | 'disabled' }): Promise<void> {
  await source.update(changes, { transaction: tx });
}

/** Stores a rotation: the new secret, and the previous one with its expiry (or none, without an overlap). */
export async function storeIntegrationSourceSecret(
  tx: Transaction,
  source: IntegrationSource,
  values: { secretCiphertext: string; previousSecretCiphertext: string | null; previousExpiresAt: Date | null; rotatedAt: Date },
): Promise<void> {
  await source.update(
    {
      secret_ciphertext: values.secretCiphertext,
      previous_secret_ciphertext: values.previousSecretCiphertext,
      previous_secret_expires_at: values.previousExpiresAt,
      secret_rotated_at: values.rotatedAt,
    },
    { transaction: tx },
  );
}

/** Marks a source deleted and erases its secrets; the row stays (its events name it). */
export async function markIntegrationSourceDeleted(tx: Transaction, source: IntegrationSource): Promise<void> {
  await source.update(
    { status: 'deleted', secret_ciphertext: null, previous_secret_ciphertext: null, previous_secret_expires_at: null, deleted_at: new Date() },
    { transaction: tx },
  );
}
