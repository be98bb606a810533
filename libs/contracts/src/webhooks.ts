import { Joi } from '@saas/config';
import type { ObjectSchema, Schema, ValidationErrorItem } from 'joi';

/**
 * The webhook contract (docs/WEBHOOKS.md; docs/API.md "Webhook events"): the envelope every external service sends,
 * the `data` of each event type, which endpoint belongs to which service, and the shapes of the gateway's answers.
 * The gateway validates with these schemas; the integration worker reads the same types from the stored payload.
 */

/** The external services; `@saas/messaging` (queues) and `@saas/db` (the `service` columns) use these. */
export const INTEGRATION_SERVICES = ['user_service', 'payment_service', 'communication_service'] as const;
export type IntegrationService = (typeof INTEGRATION_SERVICES)[number];

/** A stored webhook event's life: docs/MESSAGING.md. `queued` is derived (the event left the outbox), never stored. */
export const WEBHOOK_EVENT_STATUSES = ['received', 'queued', 'processed', 'retrying', 'failed', 'skipped'] as const;
export type WebhookEventStatus = (typeof WEBHOOK_EVENT_STATUSES)[number];

/** Public endpoint path segment (`POST /webhooks/<endpoint>`) ↔ service. */
export const WEBHOOK_ENDPOINTS = {
  'user-service': 'user_service',
  'payment-service': 'payment_service',
  'communication-service': 'communication_service',
} as const satisfies Record<string, IntegrationService>;
export type WebhookEndpoint = keyof typeof WEBHOOK_ENDPOINTS;

export const ENDPOINT_OF_SERVICE = Object.fromEntries(
  Object.entries(WEBHOOK_ENDPOINTS).map(([endpoint, service]) => [service, endpoint]),
) as Record<IntegrationService, WebhookEndpoint>;

export const USER_EVENT_TYPES = ['user.created', 'user.updated', 'user.deleted'] as const;
export const SUBSCRIPTION_EVENT_TYPES = ['subscription.created', 'subscription.updated', 'subscription.canceled'] as const;
export const PAYMENT_EVENT_TYPES = [...SUBSCRIPTION_EVENT_TYPES, 'payment.failed'] as const;
export const MESSAGE_EVENT_TYPES = ['message.delivered', 'message.failed', 'message.bounced'] as const;

export const SERVICE_EVENT_TYPES: Record<IntegrationService, readonly string[]> = {
  user_service: USER_EVENT_TYPES,
  payment_service: PAYMENT_EVENT_TYPES,
  communication_service: MESSAGE_EVENT_TYPES,
};

export type UserEventType = (typeof USER_EVENT_TYPES)[number];
export type SubscriptionEventType = (typeof SUBSCRIPTION_EVENT_TYPES)[number];
export type MessageEventType = (typeof MESSAGE_EVENT_TYPES)[number];
export type WebhookEventType = UserEventType | SubscriptionEventType | 'payment.failed' | MessageEventType;

export const PLANS = ['basic', 'professional', 'enterprise'] as const;
export const BILLING_CYCLES = ['monthly', 'annual', 'quarterly'] as const;
export const SUBSCRIPTION_STATUSES = ['active', 'trialing', 'past_due', 'canceled', 'failed'] as const;
export const EXTERNAL_USER_STATUSES = ['active', 'inactive', 'suspended', 'pending'] as const;
export const MESSAGE_STATUSES = ['delivered', 'failed', 'bounced', 'pending'] as const;

export interface UserEventData {
  user_id: string;
  email?: string;
  first_name?: string;
  last_name?: string;
  department?: string;
  title?: string;
  status?: (typeof EXTERNAL_USER_STATUSES)[number];
  hire_date?: string;
  [extra: string]: unknown;
}

export interface SubscriptionEventData {
  subscription_id: string;
  customer_id: string;
  plan: (typeof PLANS)[number];
  status?: (typeof SUBSCRIPTION_STATUSES)[number];
  billing_cycle?: (typeof BILLING_CYCLES)[number];
  amount?: number;
  currency?: string;
  trial_end?: string;
  [extra: string]: unknown;
}

export interface PaymentFailedEventData {
  payment_id: string;
  subscription_id: string;
  amount: number;
  currency: string;
  failure_reason: string;
  failure_code?: string;
  retry_at?: string;
  attempt_number?: number;
  [extra: string]: unknown;
}

export interface MessageEventData {
  message_id: string;
  recipient: string;
  template: string;
  status?: (typeof MESSAGE_STATUSES)[number];
  delivery_time_ms?: number;
  esp_message_id?: string;
  bounce_reason?: string;
  bounce_type?: string;
  failure_reason?: string;
  [extra: string]: unknown;
}

export interface WebhookMetadata {
  source: string;
  version: string;
  correlation_id?: string;
  [extra: string]: unknown;
}

export interface WebhookEnvelope<T extends string = WebhookEventType, D = Record<string, unknown>> {
  event_id: string;
  event_type: T;
  /** ISO 8601; orders events per entity. */
  timestamp: string;
  /** The organization's slug (or its UUID); optional at a source endpoint, where the source decides the organization. */
  organization_id?: string;
  metadata: WebhookMetadata;
  data: D;
  [extra: string]: unknown;
}

/** A stored, validated webhook payload, discriminated on `event_type`. */
export type WebhookEventPayload =
  | WebhookEnvelope<UserEventType, UserEventData>
  | WebhookEnvelope<SubscriptionEventType, SubscriptionEventData>
  | WebhookEnvelope<'payment.failed', PaymentFailedEventData>
  | WebhookEnvelope<MessageEventType, MessageEventData>;

// Providers add fields over time: every object accepts unknown keys, which are kept in the stored payload.
const id = Joi.string().trim().min(1).max(255);
const text = Joi.string().max(1000);
const isoDate = Joi.date().iso().min('1970-01-01T00:00:00Z').max('9999-12-31T23:59:59Z');
const amount = Joi.number().min(0).max(1e12).precision(2);
const currency = Joi.string().pattern(/^[A-Za-z]{3}$/);
const object = (keys: Record<string, Schema>) => Joi.object(keys).unknown(true);

const userData = object({
  user_id: id.required(),
  email: Joi.string().email({ tlds: false }).max(254),
  first_name: text.allow(''),
  last_name: text.allow(''),
  department: text.allow('', null),
  title: text.allow('', null),
  status: Joi.string().valid(...EXTERNAL_USER_STATUSES),
  hire_date: isoDate,
});

const subscriptionData = object({
  subscription_id: id.required(),
  customer_id: id.required(),
  plan: Joi.string().valid(...PLANS).required(),
  status: Joi.string().valid(...SUBSCRIPTION_STATUSES),
  billing_cycle: Joi.string().valid(...BILLING_CYCLES),
  amount,
  currency,
  trial_end: isoDate.allow(null),
});

const paymentFailedData = object({
  payment_id: id.required(),
  subscription_id: id.required(),
  amount: amount.required(),
  currency: currency.required(),
  failure_reason: text.min(1).required(),
  failure_code: Joi.string().max(100),
  retry_at: isoDate.allow(null),
  attempt_number: Joi.number().integer().min(1).max(1000),
});

const messageData = object({
  message_id: id.required(),
  recipient: Joi.string().email({ tlds: false }).max(254).required(),
  template: Joi.string().min(1).max(200).required(),
  status: Joi.string().valid(...MESSAGE_STATUSES),
  delivery_time_ms: Joi.number().integer().min(0).max(7 * 24 * 3600 * 1000),
  esp_message_id: Joi.string().max(255),
  bounce_reason: text,
  bounce_type: Joi.string().max(50),
  failure_reason: text,
});

/** The `data` schema of each event type. */
export const EVENT_DATA_SCHEMAS: Record<WebhookEventType, ObjectSchema> = {
  'user.created': userData,
  'user.updated': userData,
  'user.deleted': userData,
  'subscription.created': subscriptionData,
  'subscription.updated': subscriptionData,
  'subscription.canceled': subscriptionData,
  'payment.failed': paymentFailedData,
  'message.delivered': messageData,
  'message.failed': messageData,
  'message.bounced': messageData,
};

/** The envelope, without `data` (checked per event type once the type is known for the endpoint). */
export const webhookEnvelopeSchema = object({
  event_id: id.required(),
  event_type: Joi.string().max(100).required(),
  timestamp: isoDate.required(),
  organization_id: Joi.string().trim().min(1).max(100).required(),
  metadata: object({
    source: Joi.string().min(1).max(200).required(),
    version: Joi.string().min(1).max(50).required(),
    correlation_id: Joi.string().max(255),
  }).required(),
  data: Joi.object().unknown(true).required(),
});

/** At a source endpoint the source decides the organization: `organization_id` may be left out. */
const sourceEnvelopeSchema = webhookEnvelopeSchema.fork('organization_id', (schema) => schema.optional());

/** Why an event was not taken; each rejected event carries one. */
export type RejectionCode =
  | 'invalid_event'
  | 'unknown_event_type'
  | 'unknown_organization'
  | 'organization_inactive'
  /** At a source endpoint: `organization_id` names another organization than the source's. */
  | 'organization_mismatch';

export interface EventFieldError {
  path: string;
  message: string;
  code: RejectionCode;
}

export type EventCheck =
  | { ok: true; event: WebhookEventPayload; timestamp: Date; /** The event as JSON, as it will be stored. */ json: string }
  | { ok: false; eventId: string | null; code: RejectionCode; errors: EventFieldError[] };

const JOI_OPTIONS = { abortEarly: false, convert: true, errors: { wrap: { label: false as const } } };

/**
 * A JSON-escaped NUL or lone UTF-16 surrogate (JSON.stringify escapes only those surrogates): valid JSON, but
 * PostgreSQL's jsonb refuses both, so they are the client's mistake, caught here.
 */
const UNSTORABLE_ESCAPE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/;

function fieldErrors(details: ValidationErrorItem[], prefix: string[], code: RejectionCode): EventFieldError[] {
  return details.map((d) => ({ path: [...prefix, ...d.path.map(String)].join('.'), message: d.message, code }));
}

/**
 * Checks one event's envelope, its event type against the endpoint's service, and its `data` for that type.
 * Organization existence is the caller's concern (it needs the database). Unknown fields are allowed everywhere.
 * `organizationOptional`: at a source endpoint, where the credential decides the organization.
 */
export function checkWebhookEvent(service: IntegrationService, candidate: unknown, options: { organizationOptional?: boolean } = {}): EventCheck {
  const eventId =
    candidate && typeof candidate === 'object' && typeof (candidate as { event_id?: unknown }).event_id === 'string'
      ? (candidate as { event_id: string }).event_id
      : null;
  const reject = (code: RejectionCode, errors: EventFieldError[]): EventCheck => ({ ok: false, eventId, code, errors });

  const envelope = (options.organizationOptional ? sourceEnvelopeSchema : webhookEnvelopeSchema).validate(candidate, JOI_OPTIONS);
  if (envelope.error) return reject('invalid_event', fieldErrors(envelope.error.details, [], 'invalid_event'));
  const event = candidate as WebhookEnvelope<string>;
  if (!SERVICE_EVENT_TYPES[service].includes(event.event_type)) {
    return reject('unknown_event_type', [
      {
        path: 'event_type',
        message: `"${event.event_type}" is not an event type of ${ENDPOINT_OF_SERVICE[service]} (expected one of ${SERVICE_EVENT_TYPES[service].join(', ')})`,
        code: 'unknown_event_type',
      },
    ]);
  }
  const data = EVENT_DATA_SCHEMAS[event.event_type as WebhookEventType].validate(event.data, JOI_OPTIONS);
  if (data.error) return reject('invalid_event', fieldErrors(data.error.details, ['data'], 'invalid_event'));
  const json = JSON.stringify(event);
  if (UNSTORABLE_ESCAPE.test(json)) {
    return reject('invalid_event', [
      { path: '', message: 'strings must not contain the NUL character (\\u0000) or unpaired UTF-16 surrogates', code: 'invalid_event' },
    ]);
  }
  return { ok: true, event: event as WebhookEventPayload, timestamp: envelope.value.timestamp as Date, json };
}

export type EventResult = 'accepted' | 'duplicate' | 'rejected';

const fieldError = Joi.object({ path: Joi.string(), message: Joi.string(), code: Joi.string() });

/** 202 for one event. */
export const singleWebhookResponseSchema = Joi.object({
  status: Joi.string().valid('received').required(),
  event_id: Joi.string().required(),
  result: Joi.string().valid('accepted', 'duplicate').required(),
});

/** 202 for a batch: valid events are taken even when others are rejected. */
export const batchWebhookResponseSchema = Joi.object({
  status: Joi.string().valid('received').required(),
  accepted: Joi.number().integer().required(),
  duplicates: Joi.number().integer().required(),
  rejected: Joi.number().integer().required(),
  results: Joi.array()
    .items(
      Joi.object({
        index: Joi.number().integer().required(),
        event_id: Joi.string().allow(null).required(),
        result: Joi.string().valid('accepted', 'duplicate', 'rejected').required(),
        code: Joi.string().description('why the event was rejected'),
        errors: Joi.array().items(fieldError),
      }),
    )
    .required(),
});

/** Either 202 shape, for the OpenAPI document. */
export const webhookReceivedResponseSchema = Joi.alternatives().try(singleWebhookResponseSchema, batchWebhookResponseSchema);

export interface SingleWebhookResponse {
  status: 'received';
  event_id: string;
  result: 'accepted' | 'duplicate';
}

export interface BatchItemResult {
  index: number;
  event_id: string | null;
  result: EventResult;
  code?: RejectionCode;
  errors?: EventFieldError[];
}

export interface BatchWebhookResponse {
  status: 'received';
  accepted: number;
  duplicates: number;
  rejected: number;
  results: BatchItemResult[];
}
