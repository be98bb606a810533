import type { ApiGatewayConfig } from '@saas/config';

/** Which service answers which public path prefix (docs/API.md "Endpoints"). */
export const UPSTREAM_ROUTES = {
  identity: ['/users', '/orgs', '/auth', '/audit-logs', '/.well-known'],
  webhooks: ['/webhooks', '/integrations', '/subscriptions', '/communication-logs'],
} as const;

export interface Upstream {
  /** Service name, as in its logs and metrics. */
  name: string;
  url: string;
  /** Public path prefixes the gateway proxies to it; empty for a service with no public API. */
  prefixes: readonly string[];
}

/** The services behind the gateway, in the order their API documents are merged. */
export function upstreams(config: ApiGatewayConfig): Upstream[] {
  return [
    { name: 'identity-service', url: config.IDENTITY_SERVICE_URL, prefixes: UPSTREAM_ROUTES.identity },
    { name: 'webhook-gateway', url: config.WEBHOOK_GATEWAY_URL, prefixes: UPSTREAM_ROUTES.webhooks },
    { name: 'integration-worker', url: config.INTEGRATION_WORKER_URL, prefixes: [] },
  ];
}

export const routedBy = (prefixes: readonly string[], path: string) => prefixes.some((p) => path === p || path.startsWith(`${p}/`));
