// The data-access layer: one module per table or aggregate, owning every statement for it. Services, the worker,
// messaging and the domain rules call these functions and hold no SQL of their own.
export * from './organizations';
export * from './users';
export * from './invites';
export * from './sso-connections';
export * from './audit-logs';
export * from './integration-sources';
export * from './webhook-events';
export * from './webhook-event-attempts';
export * from './subscriptions';
export * from './communication-logs';
