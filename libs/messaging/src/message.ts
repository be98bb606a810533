import type { IntegrationService } from './topology';

/** Body of every integration message (docs/MESSAGING.md "Messages"). */
export interface IntegrationMessage {
  webhook_event_id: string;
  org_id: string;
  service: IntegrationService;
  event_type: string;
  event_id: string;
}

export const HEADERS = {
  retryAttempt: 'x-retry-attempt',
  requestId: 'x-request-id',
  orgId: 'x-org-id',
} as const;
