export * from './topology';
export * from './message';
export * from './connection';
export * from './publisher';
export * from './outbox';
