import { Op, QueryTypes, type WhereOptions } from 'sequelize';
import type { Database, Transaction } from '../database';
import { Organization, type OrgStatus } from '../models';
import { afterKeyset, keysetAttribute, likePattern, type KeysetCursor } from '../pagination';
import { selectRows } from '../raw-sql';

// The organizations table: every statement on it, in the caller's transaction (its organization context or system scope).

/** The organization, or null when it does not exist or the transaction's scope does not see it. */
export function findOrganization(tx: Transaction, id: string): Promise<Organization | null> {
  return Organization.findByPk(id, { transaction: tx });
}

/**
 * The organization, its row locked until the transaction ends: changes to it, or that must not race a change of it
 * (its last active admin, its SSO connection), serialize on it. NO KEY UPDATE, so inserts that reference the
 * organization (new members, audit entries) are not blocked.
 */
export function lockOrganization(tx: Transaction, id: string): Promise<Organization | null> {
  return Organization.findByPk(id, { transaction: tx, lock: tx.LOCK.NO_KEY_UPDATE });
}

/**
 * The organization, held with KEY SHARE until the transaction ends: it cannot be deleted from under what the
 * transaction inserts for it, while its other changes still proceed.
 */
export function shareLockOrganization(tx: Transaction, id: string): Promise<Organization | null> {
  return Organization.findByPk(id, { transaction: tx, lock: tx.LOCK.KEY_SHARE });
}

/** The organization with this slug (whatever its status), for a login that names its organization by slug. */
export function findOrganizationBySlug(tx: Transaction, slug: string): Promise<Organization | null> {
  return Organization.findOne({ where: { slug }, transaction: tx });
}

export interface OrganizationListFilter {
  status?: string;
  /** A case-insensitive substring of the name or the slug, wildcards literal. */
  q?: string;
}

/**
 * A page of organizations, newest first by (created_at, id) after `cursor`: `limit + 1` rows, so the caller tells
 * from the extra one whether a next page exists (pageOf); each carries its cursor as `cursor_ts`.
 */
export function listOrganizationsPage(tx: Transaction, filter: OrganizationListFilter, cursor: KeysetCursor | undefined, limit: number): Promise<Organization[]> {
  const where: WhereOptions = {
    ...(filter.status ? { status: filter.status } : {}),
    ...(filter.q ? { [Op.or]: [{ name: { [Op.iLike]: likePattern(filter.q) } }, { slug: { [Op.iLike]: likePattern(filter.q) } }] } : {}),
    [Op.and]: afterKeyset('created_at', cursor),
  };
  return Organization.findAll({
    where,
    attributes: { include: [keysetAttribute('created_at')] },
    order: [
      ['created_at', 'DESC'],
      ['id', 'DESC'],
    ],
    limit: limit + 1,
    transaction: tx,
  });
}

export type NewOrganizationRow = {
  name: string;
  slug: string;
  status: OrgStatus;
};

/** Inserts an organization; a duplicate name or slug fails with a unique violation (organizations_name_key, organizations_slug_key). */
export function insertOrganization(tx: Transaction, values: NewOrganizationRow): Promise<Organization> {
  return Organization.create(values, { transaction: tx });
}

export type OrganizationChangeValues = Partial<Pick<Organization, 'name' | 'status' | 'directory_links_existing_users'>>;

/** Writes `values` to the organization (the instance is updated too); a duplicate name fails with a unique violation. */
export function saveOrganizationChanges(tx: Transaction, org: Organization, values: OrganizationChangeValues): Promise<Organization> {
  return org.update(values, { transaction: tx });
}

/** Soft delete: the organization's status becomes `deleted`. */
export function markOrganizationDeleted(tx: Transaction, org: Organization): Promise<Organization> {
  return org.update({ status: 'deleted' }, { transaction: tx });
}

/**
 * Whether the organization lets the directory link existing accounts (false when it is not found). With `lock` its
 * row is locked FOR NO KEY UPDATE, as lockOrganization locks it.
 */
export async function readDirectoryLinkPolicy(tx: Transaction, orgId: string, lock: boolean): Promise<boolean> {
  const [org] = await selectRows<{ directory_links_existing_users: boolean }>(
    tx,
    `SELECT directory_links_existing_users FROM organizations WHERE id = $1${lock ? ' FOR NO KEY UPDATE' : ''}`,
    [orgId],
  );
  return org?.directory_links_existing_users === true;
}

/**
 * The organizations a webhook envelope's `organization_id` names, by slug (`slugs`, lower case) or id (`ids`).
 * Resolving a tenant from an unauthenticated reference (the platform webhook endpoints) is platform work across
 * organizations.
 */
export function resolveWebhookOrganizations(db: Database, slugs: string[], ids: string[]): Promise<{ id: string; slug: string; status: OrgStatus }[]> {
  return db.asSystem('webhook: resolve organization', (transaction) =>
    db.sequelize.query<{ id: string; slug: string; status: OrgStatus }>('SELECT id, slug, status FROM organizations WHERE slug = ANY($1::text[]) OR id = ANY($2::uuid[])', {
      bind: [slugs, ids],
      type: QueryTypes.SELECT,
      transaction,
    }),
  );
}
