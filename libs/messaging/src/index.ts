export * from './topology';
export * from './message';
export * from './connection';
export * from './publisher';
export * from './outbox';
export * from './consumer';
export * from './consumer-circuit';
export * from './retry';
