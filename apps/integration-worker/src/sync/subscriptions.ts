import { createSubscription, lockSubscription, subscriberUserId, updateSubscription, type Subscription, type SubscriptionFields } from '@saas/db';
import { BILLING_CYCLES, PLANS, SUBSCRIPTION_STATUSES } from '@saas/contracts';
import { PermanentSyncError, TransientSyncError } from '../errors';
import { isOlder, stale, text, type EventData, type Syncer } from './types';

function oneOf(allowed: readonly string[], value: string | undefined, field: string): string | undefined {
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
  const existing = await lockSubscription(tx, event.org_id, subscriptionId);
  if (existing && isOlder(event.event_timestamp, existing.last_event_at)) return stale();

  if (event.event_type === 'payment.failed') {
    if (!existing) throw new TransientSyncError(`subscription ${subscriptionId} has not been synced yet`);
    await updateSubscription(tx, existing, { status: 'past_due', last_payment_failure: paymentFailure(data, event.event_timestamp), last_event_at: event.event_timestamp });
    return synced(existing, event.event_type);
  }

  const customerId = text(data, 'customer_id');
  let userId = existing?.user_id ?? null;
  if (customerId && customerId !== existing?.customer_id) {
    const customerUserId = await subscriberUserId(tx, event.org_id, customerId);
    if (!customerUserId) throw new TransientSyncError(`customer ${customerId} has not been synced as a user yet`);
    userId = customerUserId;
  }
  const status = event.event_type === 'subscription.canceled' ? 'canceled' : (oneOf(SUBSCRIPTION_STATUSES, text(data, 'status'), 'status') ?? existing?.status ?? 'active');
  const plan = oneOf(PLANS, text(data, 'plan'), 'plan') ?? existing?.plan;
  if (!plan) throw new PermanentSyncError(`cannot create subscription ${subscriptionId} without a plan`);
  const fields: SubscriptionFields = {
    org_id: event.org_id,
    subscription_id: subscriptionId,
    customer_id: customerId ?? existing?.customer_id ?? null,
    user_id: userId,
    plan,
    status,
    billing_cycle: oneOf(BILLING_CYCLES, text(data, 'billing_cycle'), 'billing_cycle') ?? existing?.billing_cycle ?? null,
    amount: data['amount'] !== undefined ? String(data['amount']) : (existing?.amount ?? null),
    currency: text(data, 'currency') ?? existing?.currency ?? null,
    trial_end: text(data, 'trial_end') ?? existing?.trial_end ?? null,
    last_event_at: event.event_timestamp,
  };
  const subscription = existing ? await updateSubscription(tx, existing, fields) : await createSubscription(tx, fields);
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
