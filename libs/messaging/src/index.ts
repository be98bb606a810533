export * from './topology';
export * from './message';
export * from './connection';
