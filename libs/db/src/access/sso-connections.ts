import type { Transaction } from '../database';
import { SsoConnection } from '../models';

// The sso_connections table: one OIDC connection per organization, keyed by the organization's id.

/** The organization's connection, or null when it has none. */
export function findSsoConnection(tx: Transaction, orgId: string): Promise<SsoConnection | null> {
  return SsoConnection.findByPk(orgId, { transaction: tx });
}

/** The organization's connection, its row locked FOR UPDATE until the transaction ends (it is about to be replaced); null when it has none. */
export function lockSsoConnection(tx: Transaction, orgId: string): Promise<SsoConnection | null> {
  return SsoConnection.findByPk(orgId, { transaction: tx, lock: tx.LOCK.UPDATE });
}

/** Whether the organization enforces single sign-on (reads that column only); false when it has no connection. */
export async function findSsoEnforcement(tx: Transaction, orgId: string): Promise<boolean> {
  const connection = await SsoConnection.findByPk(orgId, { attributes: ['enforce_sso'], transaction: tx });
  return connection?.enforce_sso === true;
}

/** What a connection is saved with; `client_secret_ciphertext` omitted keeps the stored one. */
export interface SsoConnectionValues {
  issuer: string;
  client_id: string;
  client_secret_ciphertext?: string;
  allowed_domains: string[];
  jit_provisioning: boolean;
  enforce_sso: boolean;
}

/** Inserts the organization's connection. */
export function insertSsoConnection(tx: Transaction, orgId: string, values: SsoConnectionValues): Promise<SsoConnection> {
  return SsoConnection.create({ org_id: orgId, ...values }, { transaction: tx });
}

/** Writes `values` to the existing connection (the instance is updated too). */
export function updateSsoConnection(tx: Transaction, connection: SsoConnection, values: SsoConnectionValues): Promise<SsoConnection> {
  return connection.update(values, { transaction: tx });
}

/** Deletes the organization's connection; how many rows went (0: it had none). */
export function deleteSsoConnection(tx: Transaction, orgId: string): Promise<number> {
  return SsoConnection.destroy({ where: { org_id: orgId }, transaction: tx });
}
