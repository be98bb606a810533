/** Which service answers which public path prefix (DESIGN §3). */
export const UPSTREAM_ROUTES = {
  identity: ['/users', '/orgs', '/audit-logs', '/.well-known'],
  webhooks: ['/webhooks', '/integrations', '/subscriptions', '/communication-logs'],
} as const;
