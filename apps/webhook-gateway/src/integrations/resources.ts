import { Joi } from '@saas/config';
import { INTEGRATION_SERVICES, PLANS, SUBSCRIPTION_STATUSES, WEBHOOK_EVENT_STATUSES } from '@saas/contracts';
import type { CommunicationLog, Subscription, WebhookEvent } from '@saas/db';

/** A timestamp as the API shows it: ISO 8601 UTC, or null. */
export const iso = (date: Date | null | undefined) => (date ? new Date(date).toISOString() : null);

export function toEventResource(event: WebhookEvent) {
  return {
    id: event.id,
    org_id: event.org_id,
    service: event.service,
    event_id: event.event_id,
    event_type: event.event_type,
    event_timestamp: iso(event.event_timestamp),
    status: event.status,
    attempts: event.attempts,
    last_error: event.last_error,
    duplicate_count: event.duplicate_count,
    request_id: event.request_id,
    received_at: iso(event.received_at),
    processed_at: iso(event.processed_at),
  };
}

export function toEventDetail(event: WebhookEvent) {
  return { ...toEventResource(event), payload: event.payload, history: event.history, last_duplicate_at: iso(event.last_duplicate_at), updated_at: iso(event.updated_at) };
}

export function toSubscriptionResource(s: Subscription) {
  return {
    id: s.id,
    org_id: s.org_id,
    user_id: s.user_id,
    subscription_id: s.subscription_id,
    customer_id: s.customer_id,
    plan: s.plan,
    status: s.status,
    billing_cycle: s.billing_cycle,
    amount: s.amount === null ? null : Number(s.amount),
    currency: s.currency,
    trial_end: iso(s.trial_end),
    last_payment_failure: s.last_payment_failure,
    last_event_at: iso(s.last_event_at),
    created_at: iso(s.created_at),
    updated_at: iso(s.updated_at),
  };
}

export function toCommunicationLogResource(c: CommunicationLog) {
  return {
    id: c.id,
    org_id: c.org_id,
    user_id: c.user_id,
    message_id: c.message_id,
    recipient: c.recipient,
    template: c.template,
    status: c.status,
    delivery_time_ms: c.delivery_time_ms,
    bounce_reason: c.bounce_reason,
    bounce_type: c.bounce_type,
    failure_reason: c.failure_reason,
    esp_message_id: c.esp_message_id,
    last_event_at: iso(c.last_event_at),
    created_at: iso(c.created_at),
    updated_at: iso(c.updated_at),
  };
}

// Response schemas: they document the shapes in the OpenAPI document.
const str = Joi.string().allow(null);
const ts = Joi.string().isoDate().allow(null);


const eventFields = {
  id: Joi.string().required(),
  org_id: Joi.string().required(),
  service: Joi.string().valid(...INTEGRATION_SERVICES).required(),
  event_id: Joi.string().required(),
  event_type: Joi.string().required(),
  event_timestamp: ts,
  status: Joi.string().valid(...WEBHOOK_EVENT_STATUSES).required(),
  attempts: Joi.number().integer().required(),
  last_error: str,
  duplicate_count: Joi.number().integer().required(),
  request_id: str,
  received_at: ts,
  processed_at: ts,
};
export const eventSchema = Joi.object(eventFields).label('WebhookEvent');
export const eventDetailSchema = Joi.object({
  ...eventFields,
  payload: Joi.object().unknown(true),
  history: Joi.array().items(
    Joi.object({ attempt: Joi.number().integer(), at: Joi.string(), outcome: Joi.string(), error: Joi.string(), delay_ms: Joi.number().integer() }),
  ),
  last_duplicate_at: ts,
  updated_at: ts,
}).label('WebhookEventDetail');

/** Columns every synced tenant row shares. */
const syncedRow = { id: Joi.string().required(), org_id: Joi.string().required(), user_id: str };
const syncedTimes = { last_event_at: ts, created_at: ts, updated_at: ts };

export const subscriptionSchema = Joi.object({
  ...syncedRow,
  subscription_id: Joi.string().required(),
  customer_id: str,
  plan: Joi.string().valid(...PLANS).required(),
  status: Joi.string().valid(...SUBSCRIPTION_STATUSES).required(),
  billing_cycle: str,
  amount: Joi.number().allow(null),
  currency: str,
  trial_end: ts,
  last_payment_failure: Joi.object().unknown(true).allow(null),
  ...syncedTimes,
}).label('Subscription');

export const communicationLogSchema = Joi.object({
  ...syncedRow,
  message_id: Joi.string().required(),
  recipient: Joi.string().required(),
  template: Joi.string().required(),
  status: Joi.string().valid('delivered', 'failed', 'bounced', 'pending').required(),
  delivery_time_ms: Joi.number().integer().allow(null),
  bounce_reason: str,
  bounce_type: str,
  failure_reason: str,
  esp_message_id: str,
  ...syncedTimes,
}).label('CommunicationLog');

export const pageSchema = (item: Joi.Schema, label: string) =>
  Joi.object({ items: Joi.array().items(item).required(), next_cursor: Joi.string().allow(null).required() }).label(label);

const serviceStatus = Joi.object({
  status: Joi.string().valid('idle', 'healthy', 'degraded', 'error').required(),
  last_success: ts,
  last_event_id: str,
  last_failure: ts,
  last_error: str,
  processed: Joi.number().integer().required(),
  retried: Joi.number().integer().required(),
  failed: Joi.number().integer().required(),
  pending: Joi.number().integer().required(),
  circuit: Joi.string().valid('closed', 'open', 'half_open', 'unknown').required(),
});
export const statusSchema = Joi.object({
  window_seconds: Joi.number().integer().required(),
  user_service: serviceStatus,
  payment_service: serviceStatus,
  communication_service: serviceStatus,
}).label('IntegrationStatus');

export const replaySchema = Joi.object({ matched: Joi.number().integer().required(), replayed: Joi.number().integer().required() }).label('DeadLetterReplay');
