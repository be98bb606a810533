import { Op, type WhereOptions } from 'sequelize';
import type { Transaction } from '../database';
import { Subscription } from '../models';
import { afterKeyset, equalities, keysetAttribute, type KeysetCursor } from '../pagination';

// The payment-service sync's statements: one event at a time, on model instances (payment events are few).

/**
 * A subscription's columns as the sync writes them; `trial_end` as the provider sends it (text) or as stored. A type,
 * not an interface: Model.create takes it only as an object type (an interface has no implicit index signature).
 */
export type SubscriptionFields = {
  org_id: string;
  subscription_id: string;
  customer_id: string | null;
  user_id: string | null;
  plan: string;
  status: string;
  billing_cycle: string | null;
  amount: string | null;
  currency: string | null;
  trial_end: Date | string | null;
  last_event_at: Date;
};

/** The organization's subscription `subscriptionId`, locked FOR UPDATE (its events apply one after another), or null. */
export function lockSubscription(tx: Transaction, orgId: string, subscriptionId: string): Promise<Subscription | null> {
  return Subscription.findOne({ where: { org_id: orgId, subscription_id: subscriptionId }, lock: tx.LOCK.UPDATE, transaction: tx });
}

/** Stores `changes` on a subscription read in `tx` (only the columns that changed are written). */
export function updateSubscription(tx: Transaction, subscription: Subscription, changes: Partial<SubscriptionFields> & { last_payment_failure?: Record<string, unknown> }): Promise<Subscription> {
  return subscription.update(changes, { transaction: tx });
}

/** A subscription the organization did not have yet. */
export function createSubscription(tx: Transaction, fields: SubscriptionFields): Promise<Subscription> {
  return Subscription.create(fields, { transaction: tx });
}

/** What GET /subscriptions filters on; undefined: any. `orgId` undefined: every organization the transaction sees. */
export interface SubscriptionListFilter {
  orgId?: string;
  status?: string;
  plan?: string;
  user_id?: string;
}

/** A page of subscriptions, newest first by (created_at, id), after `cursor`: `limit + 1` rows. */
export function listSubscriptionsPage(tx: Transaction, filter: SubscriptionListFilter, cursor: KeysetCursor | undefined, limit: number): Promise<Subscription[]> {
  const where: WhereOptions = { ...(filter.orgId ? { org_id: filter.orgId } : {}), ...equalities(filter, ['status', 'plan', 'user_id']), [Op.and]: afterKeyset('created_at', cursor) };
  return Subscription.findAll({ where, attributes: { include: [keysetAttribute('created_at')] }, order: [['created_at', 'DESC'], ['id', 'DESC']], limit: limit + 1, transaction: tx });
}
