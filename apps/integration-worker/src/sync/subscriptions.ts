import { Subscription, User } from '@saas/db';
import { PermanentSyncError, TransientSyncError } from '../errors';
import { isOlder, stale, text, type EventData, type Syncer } from './types';

const STATUSES = ['active', 'trialing', 'past_due', 'canceled', 'failed'];
const PLANS = ['basic', 'professional', 'enterprise'];
const CYCLES = ['monthly', 'annual', 'quarterly'];

function oneOf(allowed: string[], value: string | undefined, field: string): string | undefined {
  if (value !== undefined && !allowed.includes(value)) throw new PermanentSyncError(`${field} "${value}" is not one of ${allowed.join(', ')}`);
  return value;
}

function paymentFailure(data: EventData, at: Date): Record<string, unknown> {
  const keys = ['payment_id', 'amount', 'currency', 'failure_reason', 'failure_code', 'retry_at', 'attempt_number'];
  return { ...Object.fromEntries(keys.filter((k) => data[k] !== undefined).map((k) => [k, data[k]])), failed_at: at.toISOString() };
}

/** payment-service events: subscriptions upserted by (org_id, subscription_id), linked to the customer's user. */
export const syncSubscription: Syncer = async (tx, event, data) => {
  const subscriptionId = text(data, 'subscription_id');
  if (!subscriptionId) throw new PermanentSyncError(`cannot apply ${event.event_type} without a subscription_id`);
  const existing = await Subscription.findOne({ where: { org_id: event.org_id, subscription_id: subscriptionId }, lock: tx.LOCK.UPDATE, transaction: tx });
  if (existing && isOlder(event.event_timestamp, existing.last_event_at)) return stale();

  if (event.event_type === 'payment.failed') {
    if (!existing) throw new TransientSyncError(`subscription ${subscriptionId} has not been synced yet`);
    await existing.update(
      { status: 'past_due', last_payment_failure: paymentFailure(data, event.event_timestamp), last_event_at: event.event_timestamp },
      { transaction: tx },
    );
    return synced(existing, event.event_type);
  }

  const customerId = text(data, 'customer_id');
  let userId = existing?.user_id ?? null;
  if (customerId && customerId !== existing?.customer_id) {
    const user = await User.findOne({ where: { org_id: event.org_id, external_id: customerId }, attributes: ['id'], transaction: tx });
    if (!user) throw new TransientSyncError(`customer ${customerId} has not been synced as a user yet`);
    userId = user.id;
  }
  const status = event.event_type === 'subscription.canceled' ? 'canceled' : (oneOf(STATUSES, text(data, 'status'), 'status') ?? existing?.status ?? 'active');
  const plan = oneOf(PLANS, text(data, 'plan'), 'plan') ?? existing?.plan;
  if (!plan) throw new PermanentSyncError(`cannot create subscription ${subscriptionId} without a plan`);
  const fields = {
    org_id: event.org_id,
    subscription_id: subscriptionId,
    customer_id: customerId ?? existing?.customer_id ?? null,
    user_id: userId,
    plan,
    status,
    billing_cycle: oneOf(CYCLES, text(data, 'billing_cycle'), 'billing_cycle') ?? existing?.billing_cycle ?? null,
    amount: data['amount'] !== undefined ? String(data['amount']) : (existing?.amount ?? null),
    currency: text(data, 'currency') ?? existing?.currency ?? null,
    trial_end: text(data, 'trial_end') ?? existing?.trial_end ?? null,
    last_event_at: event.event_timestamp,
  };
  const subscription = existing ? await existing.update(fields, { transaction: tx }) : await Subscription.create(fields, { transaction: tx });
  return synced(subscription, event.event_type);
};

function synced(subscription: Subscription, eventType: string) {
  return {
    outcome: 'processed' as const,
    audits: [
      {
        action: 'integration.subscription.synced',
        targetType: 'subscription',
        targetId: subscription.id,
        metadata: { subscription_id: subscription.subscription_id, status: subscription.status, event_type: eventType },
      },
    ],
  };
}
