import type { WebhookGatewayConfig } from '@saas/config';
import { ApiRouter } from '@saas/http';
import type { ServiceRuntime } from '@saas/runtime';

// Routes land here with the feature (see the issue this folder belongs to).
export function webhookRoutes(_runtime: ServiceRuntime<WebhookGatewayConfig>): ApiRouter {
  return new ApiRouter();
}
